namespace SAMed.Evaluation;

/// <summary>Inclusive per-axis bounds of the voxels seen so far; used to crop masks before the distance transform.</summary>
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
        new(low.Select((l, axis) => high[axis] - l + 1).ToArray(), grid.Spacing);

    /// <summary>The cropped region, C order, of (volume == value).</summary>
    public bool[] Extract<T>(ReadOnlySpan<T> volume, VoxelGrid grid, T value) where T : IEquatable<T>
    {
        var crop = Crop(grid);
        var result = new bool[crop.Count];
        int rank = grid.Rank;
        int rowLength = crop.Shape[rank - 1];
        var coordinates = new int[rank];
        for (long start = 0; start < result.Length; start += rowLength)
        {
            long source = 0;
            for (int axis = 0; axis < rank; axis++)
                source += (low[axis] + coordinates[axis]) * grid.Strides[axis];
            var row = volume.Slice((int)source, rowLength);
            for (int x = 0; x < rowLength; x++)
                result[start + x] = row[x].Equals(value);
            for (int axis = rank - 2; axis >= 0; axis--)
            {
                if (++coordinates[axis] < crop.Shape[axis])
                    break;
                coordinates[axis] = 0;
            }
        }

        return result;
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
            for (int axis = grid.Rank - 1; axis >= 0; axis--)
            {
                if (++coordinates[axis] < grid.Shape[axis])
                    break;
                coordinates[axis] = 0;
            }
        }

        return box;
    }
}
