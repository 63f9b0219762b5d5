namespace SAMed.Evaluation;

/// <summary>The one-voxel surface medpy measures distances between.</summary>
public static class BinarySurface
{
    /// <summary>
    /// mask XOR binary_erosion(mask, structure = generate_binary_structure(rank, 1), iterations = 1): a mask voxel is
    /// on the surface when one of its 2·rank face neighbours is background or lies outside the grid (scipy's
    /// erosion uses border_value = 0). The same surface <see cref="SurfaceDistances"/> measures (<see cref="SurfaceColumns"/>).
    /// </summary>
    public static bool[] Border(ReadOnlySpan<bool> mask, VoxelGrid grid) =>
        SurfaceColumns.Of(mask, grid, BoundingBox.Whole(grid), true).ToMask();
}
