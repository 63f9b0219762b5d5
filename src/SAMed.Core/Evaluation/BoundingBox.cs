namespace SAMed.Evaluation;

/// <summary>Inclusive per-axis bounds of the voxels seen so far; the region a class's surfaces are read from, a slice at a time.</summary>
internal sealed class BoundingBox
{
    private readonly int[] low;
    private readonly int[] high;

    public BoundingBox(int rank)
    {
        low = Enumerable.Repeat(int.MaxValue, rank).ToArray();
        high = Enumerable.Repeat(int.MinValue, rank).ToArray();
    }

    public bool IsEmpty => low[0] > high[0];

    public void Include(ReadOnlySpan<int> coordinates)
    {
        for (int axis = 0; axis < low.Length; axis++)
        {
            int c = coordinates[axis];
            if (c < low[axis])
                low[axis] = c;
            if (c > high[axis])
                high[axis] = c;
        }
    }

    /// <summary>The grid of the cropped region, keeping the spacing of the full grid.</summary>
    public VoxelGrid Crop(VoxelGrid grid) =>
        new(low.Select((_, axis) => Extent(axis)).ToArray(), grid.Spacing);

    private int Extent(int axis) => high[axis] - low[axis] + 1;

    /// <summary>
    /// Slice <paramref name="slice"/> (along axis 0, counted from the box's first) of the cropped region of
    /// (volume == value), C order.
    /// </summary>
    public void ExtractSlice<T>(ReadOnlySpan<T> volume, VoxelGrid grid, T value, int slice, Span<bool> destination)
        where T : IEquatable<T>
    {
        int rank = grid.Rank;
        int rowLength = rank == 1 ? 1 : Extent(rank - 1);
        long sliceLength = Enumerable.Range(1, rank - 1).Aggregate(1L, (product, axis) => product * Extent(axis));
        if (destination.Length != sliceLength)
            throw new ArgumentException($"a slice of the box has {sliceLength} voxels, the destination {destination.Length}");
        var coordinates = new int[rank];
        coordinates[0] = slice;
        for (int start = 0; start < destination.Length; start += rowLength)
        {
            long source = 0;
            for (int axis = 0; axis < rank; axis++)
                source += (low[axis] + coordinates[axis]) * grid.Strides[axis];
            var row = volume.Slice(checked((int)source), rowLength);
            var target = destination.Slice(start, rowLength);
            for (int x = 0; x < rowLength; x++)
                target[x] = row[x].Equals(value);
            for (int axis = rank - 2; axis >= 1; axis--)
            {
                if (++coordinates[axis] < Extent(axis))
                    break;
                coordinates[axis] = 0;
            }
        }
    }

    /// <summary>The box of the whole grid.</summary>
    public static BoundingBox Whole(VoxelGrid grid)
    {
        var box = new BoundingBox(grid.Rank);
        box.Include(new int[grid.Rank]);
        box.Include([.. grid.Shape.Select(d => d - 1)]);
        return box;
    }

    /// <summary>The box around every voxel where either mask is set.</summary>
    public static BoundingBox OfUnion(ReadOnlySpan<bool> first, ReadOnlySpan<bool> second, VoxelGrid grid)
    {
        var box = new BoundingBox(grid.Rank);
        var coordinates = new int[grid.Rank];
        for (int i = 0; i < first.Length; i++)
        {
            if (first[i] || second[i])
                box.Include(coordinates);
            grid.Advance(coordinates);
        }

        return box;
    }
}
