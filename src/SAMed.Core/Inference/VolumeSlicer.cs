using System.Runtime.InteropServices;

namespace SAMed.Inference;

/// <summary>
/// Cuts a volume stored x fastest ([X, Y, Z] on disk) into 2D slices along one voxel axis and puts label slices back.
/// A slice's rows run along the higher of the two remaining axes and its columns along the lower, so slicing along z
/// gives [y, x]: SAMed's layout (the voxel array transposed to [z, y, x]).
/// </summary>
public sealed class VolumeSlicer
{
    private readonly long[] strides;
    private readonly int rowAxis;
    private readonly int columnAxis;

    public VolumeSlicer(IReadOnlyList<int> shape, int sliceAxis)
    {
        if (shape.Count != 3 || shape.Any(d => d < 1))
            throw new ArgumentException($"a volume needs three positive sizes, got [{string.Join(", ", shape)}]", nameof(shape));
        if (sliceAxis is < 0 or > 2)
            throw new ArgumentOutOfRangeException(nameof(sliceAxis), sliceAxis, "slice axis must be 0, 1 or 2");
        Shape = [.. shape];
        SliceAxis = sliceAxis;
        strides = [1, shape[0], (long)shape[0] * shape[1]];
        var others = Enumerable.Range(0, 3).Where(a => a != sliceAxis).ToArray();
        columnAxis = others[0];
        rowAxis = others[1];
    }

    public int[] Shape { get; }

    public int SliceAxis { get; }

    /// <summary>The voxel axis a slice's rows run along (its row index is that axis's coordinate).</summary>
    public int RowAxis => rowAxis;

    /// <summary>The voxel axis a slice's columns run along.</summary>
    public int ColumnAxis => columnAxis;

    public int SliceCount => Shape[SliceAxis];

    public int Rows => Shape[rowAxis];

    public int Columns => Shape[columnAxis];

    public float[,] Slice(ReadOnlySpan<float> volume, int index)
    {
        var slice = new float[Rows, Columns];
        long origin = index * strides[SliceAxis];
        for (int r = 0; r < Rows; r++)
        {
            long row = origin + r * strides[rowAxis];
            for (int c = 0; c < Columns; c++)
                slice[r, c] = volume[(int)(row + c * strides[columnAxis])];
        }
        return slice;
    }

    /// <summary>One slice of a NIfTI image's scaled values, read row by row from the stored voxels (the volume is not converted).</summary>
    public float[,] Slice(IO.NiftiImage image, int index)
    {
        if (image.VoxelCount != (long)Shape[0] * Shape[1] * Shape[2])
            throw new ArgumentException($"the image has {image.VoxelCount} voxels, the slicer's grid [{string.Join(", ", Shape)}] another number");
        var slice = new float[Rows, Columns];
        long origin = index * strides[SliceAxis];
        for (int r = 0; r < Rows; r++)
            image.CopyFloats(origin + r * strides[rowAxis], strides[columnAxis], MemoryMarshal.CreateSpan(ref slice[r, 0], Columns));
        return slice;
    }

    /// <summary>The flat index (x fastest) of a slice's voxel.</summary>
    public long FlatIndex(int index, int row, int column) => index * strides[SliceAxis] + row * strides[rowAxis] + column * strides[columnAxis];

    public int[,] Slice(ReadOnlySpan<byte> labels, int index)
    {
        var slice = new int[Rows, Columns];
        long origin = index * strides[SliceAxis];
        for (int r = 0; r < Rows; r++)
        {
            long row = origin + r * strides[rowAxis];
            for (int c = 0; c < Columns; c++)
                slice[r, c] = labels[(int)(row + c * strides[columnAxis])];
        }
        return slice;
    }

    /// <summary>True when any voxel of the slice is non-zero (read in place, nothing allocated).</summary>
    public bool AnyNonZero(ReadOnlySpan<byte> labels, int index)
    {
        long origin = index * strides[SliceAxis];
        for (int r = 0; r < Rows; r++)
        {
            long row = origin + r * strides[rowAxis];
            if (strides[columnAxis] == 1)
            {
                if (labels.Slice((int)row, Columns).ContainsAnyExcept((byte)0))
                    return true;
                continue;
            }
            for (int c = 0; c < Columns; c++)
                if (labels[(int)(row + c * strides[columnAxis])] != 0)
                    return true;
        }
        return false;
    }

    public void Put(Span<byte> volume, int index, int[,] labels)
    {
        if (labels.GetLength(0) != Rows || labels.GetLength(1) != Columns)
            throw new ArgumentException($"a {labels.GetLength(0)}x{labels.GetLength(1)} label slice does not fit {Rows}x{Columns}");
        long origin = index * strides[SliceAxis];
        for (int r = 0; r < Rows; r++)
        {
            long row = origin + r * strides[rowAxis];
            for (int c = 0; c < Columns; c++)
                volume[(int)(row + c * strides[columnAxis])] = checked((byte)labels[r, c]);
        }
    }
}
