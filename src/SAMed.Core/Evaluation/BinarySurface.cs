namespace SAMed.Evaluation;

/// <summary>The one-voxel surface medpy measures distances between.</summary>
public static class BinarySurface
{
    /// <summary>
    /// mask XOR binary_erosion(mask, structure = generate_binary_structure(rank, 1), iterations = 1): a mask voxel is
    /// on the surface when one of its 2·rank face neighbours is background or lies outside the grid (scipy's
    /// erosion uses border_value = 0).
    /// </summary>
    public static bool[] Border(ReadOnlySpan<bool> mask, VoxelGrid grid)
    {
        grid.RequireLength(mask.Length, "mask");
        var border = new bool[mask.Length];
        int rank = grid.Rank;
        var coordinates = new int[rank];
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i])
                border[i] = TouchesBackground(mask, grid, coordinates, i);
            for (int axis = rank - 1; axis >= 0; axis--)
            {
                if (++coordinates[axis] < grid.Shape[axis])
                    break;
                coordinates[axis] = 0;
            }
        }

        return border;
    }

    private static bool TouchesBackground(ReadOnlySpan<bool> mask, VoxelGrid grid, int[] coordinates, int index)
    {
        for (int axis = 0; axis < grid.Rank; axis++)
        {
            int stride = (int)grid.Strides[axis];
            if (coordinates[axis] == 0 || !mask[index - stride])
                return true;
            if (coordinates[axis] == grid.Shape[axis] - 1 || !mask[index + stride])
                return true;
        }

        return false;
    }
}
