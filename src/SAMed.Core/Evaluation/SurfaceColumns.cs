using System.Numerics;

namespace SAMed.Evaluation;

/// <summary>
/// The one-voxel surface medpy measures distances between, of the voxels equal to one value in a box of a volume,
/// one bit a voxel. medpy's __surface_distances takes mask XOR binary_erosion(mask, structure =
/// generate_binary_structure(rank, 1), iterations = 1): a mask voxel is on the surface when one of its 2·rank face
/// neighbours is background or lies outside the grid (scipy's erosion uses border_value = 0). Outside the box the mask
/// is empty, so the surface inside it is the surface on the whole grid.
/// </summary>
/// <remarks>
/// The bits are kept column by column: a column is one in-slice position through every slice along axis 0, so the
/// nearest surface voxel along axis 0 is a few word scans away (see <see cref="NextAtOrAfter"/>). Each column takes
/// whole 64-bit words: a quarter byte a voxel of a deep box, up to 8 bytes a column for a shallow one (a box one slice
/// deep is a slice). The mask is read three slices at a time; nothing else of the size of the box is held.
/// </remarks>
internal sealed class SurfaceColumns
{
    private readonly ulong[] bits;
    private readonly int wordsPerColumn;

    private SurfaceColumns(int depth, int columns)
    {
        Depth = depth;
        Columns = columns;
        wordsPerColumn = (depth + 63) >> 6;
        bits = new ulong[(long)columns * wordsPerColumn];
        SliceCounts = new int[depth];
    }

    /// <summary>Slices along axis 0.</summary>
    public int Depth { get; }

    /// <summary>Voxels in one slice (the in-slice positions, C order).</summary>
    public int Columns { get; }

    /// <summary>Surface voxels in each slice.</summary>
    public int[] SliceCounts { get; }

    /// <summary>Surface voxels in all.</summary>
    public long Count { get; private set; }

    public bool Contains(int column, int slice) => ((bits[(long)column * wordsPerColumn + (slice >> 6)] >> (slice & 63)) & 1) != 0;

    /// <summary>The first slice at or after <paramref name="slice"/> where the column is on the surface, or -1.</summary>
    public int NextAtOrAfter(int column, int slice)
    {
        if (slice >= Depth)
            return -1;
        long start = (long)column * wordsPerColumn;
        int word = slice >> 6;
        ulong value = bits[start + word] & (ulong.MaxValue << (slice & 63));
        while (value == 0)
        {
            if (++word == wordsPerColumn)
                return -1;
            value = bits[start + word];
        }

        return (word << 6) + BitOperations.TrailingZeroCount(value);
    }

    /// <summary>The surface as a mask of the box, C order.</summary>
    public bool[] ToMask()
    {
        var mask = new bool[(long)Depth * Columns];
        for (int slice = 0; slice < Depth; slice++)
            for (int column = 0; column < Columns; column++)
                mask[(long)slice * Columns + column] = Contains(column, slice);
        return mask;
    }

    /// <summary>The surface of (volume == value) inside <paramref name="box"/> of <paramref name="grid"/>.</summary>
    public static SurfaceColumns Of<T>(ReadOnlySpan<T> volume, VoxelGrid grid, BoundingBox box, T value) where T : IEquatable<T>
    {
        grid.RequireLength(volume.Length, "mask");
        var crop = box.Crop(grid);
        int depth = crop.Shape[0];
        var surface = new SurfaceColumns(depth, (int)(crop.Count / depth));
        var slice = crop.Slice();
        bool[] below = new bool[surface.Columns], here = new bool[surface.Columns], above = new bool[surface.Columns];
        box.ExtractSlice(volume, grid, value, 0, here);
        for (int z = 0; z < depth; z++)
        {
            bool last = z == depth - 1;
            if (!last)
                box.ExtractSlice(volume, grid, value, z + 1, above);
            surface.MarkSlice(z, z == 0 ? null : below, here, last ? null : above, slice);
            (below, here, above) = (here, above, below);
        }

        return surface;
    }

    /// <summary>Marks the surface voxels of one slice; a null neighbour slice lies outside the box (background).</summary>
    private void MarkSlice(int z, bool[]? below, bool[] here, bool[]? above, VoxelGrid? slice)
    {
        var coordinates = new int[slice?.Rank ?? 0];
        int count = 0;
        for (int column = 0; column < here.Length; column++)
        {
            if (here[column] && (below is null || !below[column] || above is null || !above[column]
                || (slice is not null && TouchesBackground(here, slice, coordinates, column))))
            {
                bits[(long)column * wordsPerColumn + (z >> 6)] |= 1UL << (z & 63);
                count++;
            }

            slice?.Advance(coordinates);
        }

        SliceCounts[z] = count;
        Count += count;
    }

    /// <summary>Whether an in-slice face neighbour of a set voxel is background or outside the slice.</summary>
    private static bool TouchesBackground(bool[] mask, VoxelGrid slice, int[] coordinates, int index)
    {
        for (int axis = 0; axis < slice.Rank; axis++)
        {
            int stride = (int)slice.Strides[axis];
            if (coordinates[axis] == 0 || !mask[index - stride])
                return true;
            if (coordinates[axis] == slice.Shape[axis] - 1 || !mask[index + stride])
                return true;
        }

        return false;
    }
}
