namespace SAMed.Evaluation;

/// <summary>
/// medpy's __surface_distances in both directions: for every surface voxel of one mask, the Euclidean distance
/// (in spacing units) to the nearest surface voxel of the other, in C order of the voxels.
/// </summary>
public sealed record SurfaceDistances(double[] ResultToReference, double[] ReferenceToResult)
{
    /// <summary>medpy.metric.binary.hd: the larger of the two directed maxima.</summary>
    public double Hausdorff => Math.Max(ResultToReference.Max(), ReferenceToResult.Max());

    /// <summary>medpy.metric.binary.hd95: numpy.percentile(hstack(both directions), 95).</summary>
    public double Hausdorff95 => Percentile.Linear([.. ResultToReference, .. ReferenceToResult], 95);

    /// <summary>Both directions for two non-empty masks on the same grid.</summary>
    public static SurfaceDistances Compute(ReadOnlySpan<bool> result, ReadOnlySpan<bool> reference, VoxelGrid grid)
    {
        grid.RequireLength(result.Length, "result mask");
        grid.RequireLength(reference.Length, "reference mask");
        if (!result.Contains(true))
            throw new ArgumentException("The first supplied array does not contain any binary object.", nameof(result));
        if (!reference.Contains(true))
            throw new ArgumentException("The second supplied array does not contain any binary object.", nameof(reference));
        var box = BoundingBox.OfUnion(result, reference, grid);
        return FromCrops(box.Extract(result, grid, true), box.Extract(reference, grid, true), box.Crop(grid));
    }

    /// <summary>
    /// Both masks cropped to a box that holds every set voxel of either. Outside such a box both masks are empty, so
    /// surfaces and nearest-surface distances are the same as on the full grid.
    /// </summary>
    internal static SurfaceDistances FromCrops(bool[] result, bool[] reference, VoxelGrid crop)
    {
        var resultBorder = BinarySurface.Border(result, crop);
        var referenceBorder = BinarySurface.Border(reference, crop);
        // One distance field serves both directions (8 bytes a voxel of the crop, the largest array of the metrics).
        var field = new double[crop.Count];
        var resultToReference = Directed(resultBorder, referenceBorder, crop, field);
        return new SurfaceDistances(resultToReference, Directed(referenceBorder, resultBorder, crop, field));
    }

    private static double[] Directed(bool[] from, bool[] to, VoxelGrid grid, double[] field)
    {
        for (int i = 0; i < field.Length; i++)
            field[i] = to[i] ? 0.0 : double.PositiveInfinity;
        EuclideanDistanceTransform.SquaredInPlace(field, grid);
        var distances = new List<double>();
        for (int i = 0; i < from.Length; i++)
            if (from[i])
                distances.Add(Math.Sqrt(field[i]));
        return [.. distances];
    }
}
