namespace SAMed.Evaluation;

/// <summary>medpy.metric.binary dc, hd and hd95 on binary masks stored flat in C order.</summary>
public static class BinaryMetrics
{
    /// <summary>medpy.metric.binary.dc: 2|A∩B| / (|A| + |B|), and 1 when both masks are empty.</summary>
    public static double Dice(ReadOnlySpan<bool> result, ReadOnlySpan<bool> reference)
    {
        if (result.Length != reference.Length)
            throw new ArgumentException($"result has {result.Length} voxels but reference has {reference.Length}");
        long intersection = 0, resultSize = 0, referenceSize = 0;
        for (int i = 0; i < result.Length; i++)
        {
            if (result[i])
            {
                resultSize++;
                if (reference[i])
                    intersection++;
            }

            if (reference[i])
                referenceSize++;
        }

        return Dice(intersection, resultSize, referenceSize);
    }

    internal static double Dice(long intersection, long resultSize, long referenceSize) =>
        resultSize + referenceSize == 0 ? 1.0 : 2.0 * intersection / (double)(resultSize + referenceSize);

    /// <summary>medpy.metric.binary.hd with connectivity 1; <paramref name="grid"/> carries the voxel spacing.</summary>
    public static double Hausdorff(ReadOnlySpan<bool> result, ReadOnlySpan<bool> reference, VoxelGrid grid) =>
        SurfaceDistances.Compute(result, reference, grid).Hausdorff;

    /// <summary>medpy.metric.binary.hd95 with connectivity 1; <paramref name="grid"/> carries the voxel spacing.</summary>
    public static double Hausdorff95(ReadOnlySpan<bool> result, ReadOnlySpan<bool> reference, VoxelGrid grid) =>
        SurfaceDistances.Hausdorff95Of(result, reference, grid);

    /// <summary>medpy.metric.binary.hd on masks of the given C-order shape; spacing per axis (null: unit voxels).</summary>
    public static double Hausdorff(ReadOnlySpan<bool> result, ReadOnlySpan<bool> reference, int[] shape, double[]? spacing = null) =>
        Hausdorff(result, reference, new VoxelGrid(shape, spacing));

    /// <summary>medpy.metric.binary.hd95 on masks of the given C-order shape; spacing per axis (null: unit voxels).</summary>
    public static double Hausdorff95(ReadOnlySpan<bool> result, ReadOnlySpan<bool> reference, int[] shape, double[]? spacing = null) =>
        Hausdorff95(result, reference, new VoxelGrid(shape, spacing));
}
