using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace SAMed.IO;

/// <summary>
/// A NIfTI-1 image: its header and its voxels exactly as stored on disk (x fastest, no reorientation),
/// held as little-endian bytes of <see cref="DataType"/>. Values read through <see cref="GetValue"/>,
/// <see cref="ToDouble"/> and <see cref="ToFloat"/> have scl_slope/scl_inter applied.
/// Because x varies fastest, the flat voxel order of a [X, Y, Z] image is the C order of a [Z, Y, X] array.
/// </summary>
public sealed class NiftiImage
{
    private readonly NiftiHeader header;
    private readonly byte[] data;

    public NiftiImage(NiftiHeader header, byte[] data, string source = "image")
    {
        header.Validate(source);
        long expected = VoxelCountOf(header.Shape) * ((NiftiDataType)header.DataType).ItemSize();
        if (data.LongLength != expected)
            throw new ArgumentException($"{source}: {data.LongLength} data bytes, but the header's shape [{string.Join(", ", header.Shape)}] "
                + $"of {(NiftiDataType)header.DataType} needs {expected}");
        if (header.SclSlope != 0 && float.IsFinite(header.SclSlope) && !float.IsFinite(header.SclInter))
            throw new InvalidDataException($"{source}: scl_slope is {header.SclSlope} but scl_inter is {header.SclInter}");
        this.header = header.DeepCopy();
        this.data = data;
        shape = header.Shape;
        VoxelCount = VoxelCountOf(shape);
        DataType = (NiftiDataType)header.DataType;
        HasScaling = header.SclSlope != 0 && float.IsFinite(header.SclSlope) && !(header.SclSlope == 1 && header.SclInter == 0);
        slope = HasScaling ? header.SclSlope : 1;
        intercept = HasScaling ? header.SclInter : 0;
    }

    private readonly int[] shape;
    private readonly double slope;
    private readonly double intercept;

    /// <summary>A copy of the header; change it with <c>with</c> and build a new image.</summary>
    public NiftiHeader Header => header.DeepCopy();

    public NiftiDataType DataType { get; }

    /// <summary>dim[1..dim[0]]: [X, Y, Z, T, ...] as stored.</summary>
    public int[] Shape => (int[])shape.Clone();

    public long VoxelCount { get; }

    /// <summary>The voxel sizes pixdim[1..dim[0]] (mm for space, as xyzt_units says).</summary>
    public float[] VoxelSizes => [.. Header.PixDim.Skip(1).Take(Header.Rank)];

    /// <summary>The raw voxel bytes (little-endian, unscaled), x fastest.</summary>
    public ReadOnlySpan<byte> RawData => data;

    /// <summary>True when scl_slope/scl_inter change the stored values (slope finite, non-zero, and not slope 1 with intercept 0).</summary>
    public bool HasScaling { get; }

    /// <summary>The voxel-to-world (scanner mm) affine: sform if sform_code &gt; 0, else qform if qform_code &gt; 0, else diag(pixdim).</summary>
    public double[,] Affine => NiftiAffine.Best(Header);

    /// <summary>Orientation codes of the voxel axes from the affine, e.g. "RAS" or "LPS".</summary>
    public string Orientation => NiftiAffine.AxisCodes(Affine);

    /// <summary>The scaled value of the voxel at flat index (x fastest).</summary>
    public double GetValue(long index)
    {
        if ((ulong)index >= (ulong)VoxelCount)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"voxel index must be in [0, {VoxelCount})");
        double raw = RawValue(DataType, data, index);
        return HasScaling ? raw * slope + intercept : raw;
    }

    /// <summary>The scaled value at (x, y, z) of a 3D image (or the first volume of a 4D one).</summary>
    public double this[int x, int y, int z]
    {
        get
        {
            int nx = shape[0], ny = shape.Length > 1 ? shape[1] : 1, nz = shape.Length > 2 ? shape[2] : 1;
            if ((uint)x >= (uint)nx || (uint)y >= (uint)ny || (uint)z >= (uint)nz)
                throw new ArgumentOutOfRangeException(nameof(x), $"({x}, {y}, {z}) is outside the grid {nx} x {ny} x {nz}");
            return GetValue(x + (long)nx * (y + (long)ny * z));
        }
    }

    /// <summary>Scaled values of the voxels start, start + 1, ... (x fastest) into <paramref name="destination"/>.</summary>
    public void CopyValues(long start, Span<double> destination)
    {
        if (start < 0 || start + destination.Length > VoxelCount)
            throw new ArgumentOutOfRangeException(nameof(start), $"voxels [{start}, {start + destination.Length}) are outside [0, {VoxelCount})");
        var type = DataType;
        var bytes = data.AsSpan();
        for (int i = 0; i < destination.Length; i++)
            destination[i] = RawValue(type, bytes, start + i);
        if (HasScaling)
            for (int i = 0; i < destination.Length; i++)
                destination[i] = destination[i] * slope + intercept;
    }

    /// <summary>Every voxel's scaled value in float64, x fastest (what nibabel's get_fdata gives, flattened in Fortran order).</summary>
    public double[] ToDouble()
    {
        var values = new double[VoxelCount];
        for (long i = 0; i < values.LongLength; i++)
            values[i] = RawValue(DataType, data, i);
        if (HasScaling)
            for (long i = 0; i < values.LongLength; i++)
                values[i] = values[i] * slope + intercept;
        return values;
    }

    /// <summary>The scaled values computed in float64 and rounded to float32 (get_fdata().astype(np.float32)).</summary>
    public float[] ToFloat()
    {
        if (DataType == NiftiDataType.Float32 && !HasScaling)
            return MemoryMarshal.Cast<byte, float>(data).ToArray();
        var values = new float[VoxelCount];
        for (long i = 0; i < values.LongLength; i++)
        {
            double raw = RawValue(DataType, data, i);
            values[i] = (float)(HasScaling ? raw * slope + intercept : raw);
        }
        return values;
    }

    /// <summary>
    /// Scaled values (computed as <see cref="ToFloat"/> does) of the voxels start, start + step, start + 2 step, ...
    /// (flat indices, x fastest) into <paramref name="destination"/>: a row of a slice without converting the volume.
    /// </summary>
    public void CopyFloats(long start, long step, Span<float> destination)
    {
        long last = start + (destination.Length - 1) * step;
        if (destination.Length > 0 && (start < 0 || step < 1 || last >= VoxelCount))
            throw new ArgumentOutOfRangeException(nameof(start), $"voxels {start} + k * {step}, k < {destination.Length}, are outside [0, {VoxelCount})");
        if (DataType == NiftiDataType.Float32 && !HasScaling && step == 1)
        {
            MemoryMarshal.Cast<byte, float>(data.AsSpan((int)(start * 4), destination.Length * 4)).CopyTo(destination);
            return;
        }
        var type = DataType;
        for (int i = 0; i < destination.Length; i++)
        {
            double raw = RawValue(type, data, start + i * step);
            destination[i] = (float)(HasScaling ? raw * slope + intercept : raw);
        }
    }

    /// <summary>The flat index of the first stored NaN or infinity, or -1 (integer types hold none).</summary>
    public long FirstNonFiniteVoxel()
    {
        if (DataType == NiftiDataType.Float32)
        {
            var values = MemoryMarshal.Cast<byte, float>(data);
            for (int i = 0; i < values.Length; i++)
                if (!float.IsFinite(values[i]))
                    return i;
        }
        else if (DataType == NiftiDataType.Float64)
        {
            var values = MemoryMarshal.Cast<byte, double>(data);
            for (int i = 0; i < values.Length; i++)
                if (!double.IsFinite(values[i]))
                    return i;
        }
        return -1;
    }

    /// <summary>
    /// A new image with <paramref name="like"/>'s geometry (affine, pixdim, qform/sform, units) and the given values,
    /// stored as <paramref name="type"/> without scaling. Values are x fastest; each must fit the type exactly.
    /// </summary>
    public static NiftiImage Create(NiftiHeader like, int[] shape, NiftiDataType type, ReadOnlySpan<double> values)
    {
        if (values.Length != VoxelCountOf(shape))
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] holds {VoxelCountOf(shape)} voxels, not {values.Length}");
        int size = type.ItemSize();
        var bytes = new byte[values.Length * size];
        var (min, max) = type.Range();
        for (int i = 0; i < values.Length; i++)
        {
            double v = values[i];
            if (!type.IsFloatingPoint() && (v != Math.Floor(v) || v < min || v > max))
                throw new ArgumentException($"value {v} at voxel {i} is not representable as {type}");
            WriteValue(type, bytes.AsSpan(i * size), v);
        }
        return new NiftiImage(HeaderFor(like, shape, type), bytes);
    }

    /// <summary>
    /// A new image with <paramref name="like"/>'s geometry over <paramref name="data"/>, the voxels already stored as
    /// <paramref name="type"/> (little-endian, x fastest, no scaling); the array is used, not copied. Equal to
    /// <see cref="Create"/> with the same values.
    /// </summary>
    public static NiftiImage FromStored(NiftiHeader like, int[] shape, NiftiDataType type, byte[] data) =>
        new(HeaderFor(like, shape, type), data);

    /// <summary>A label image on <paramref name="like"/>'s grid and geometry, as uint8 when every label is in 0..255 (else int16, uint16 or int32).</summary>
    public static NiftiImage FromLabels(NiftiImage like, ReadOnlySpan<int> labels)
    {
        long min = 0, max = 0;
        foreach (int label in labels)
        {
            min = Math.Min(min, label);
            max = Math.Max(max, label);
        }
        var type = NiftiDataTypes.ForLabels(min, max);
        var values = new double[labels.Length];
        for (int i = 0; i < labels.Length; i++)
            values[i] = labels[i];
        var image = Create(like.header, like.shape, type, values);
        return new NiftiImage(image.header with { CalMax = max }, image.data);
    }

    /// <summary>A float32 image on <paramref name="like"/>'s grid and geometry.</summary>
    public static NiftiImage FromFloat32(NiftiImage like, ReadOnlySpan<float> values)
    {
        if (values.Length != like.VoxelCount)
            throw new ArgumentException($"the image has {like.VoxelCount} voxels, not {values.Length}");
        var bytes = MemoryMarshal.AsBytes(values).ToArray();
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("NIfTI writing needs a little-endian machine");
        return new NiftiImage(HeaderFor(like.Header, like.shape, NiftiDataType.Float32), bytes);
    }

    internal static NiftiHeader HeaderFor(NiftiHeader like, int[] shape, NiftiDataType type)
    {
        if (shape.Length is < 1 or > 7 || shape.Any(d => d is < 1 or > short.MaxValue))
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] must have 1 to 7 sizes in [1, {short.MaxValue}]");
        var dim = new short[8];
        dim[0] = (short)shape.Length;
        for (int i = 1; i < 8; i++)
            dim[i] = i <= shape.Length ? (short)shape[i - 1] : (short)1;
        return like.DeepCopy() with
        {
            Dim = dim,
            DataType = (short)type,
            BitPix = (short)(type.ItemSize() * 8),
            SclSlope = 1,
            SclInter = 0,
            CalMin = 0,
            CalMax = 0,
            GlMin = 0,
            GlMax = 0,
            VoxOffset = 352,
            Magic = "n+1",
        };
    }

    internal static long VoxelCountOf(int[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    internal static double RawValue(NiftiDataType type, ReadOnlySpan<byte> bytes, long index) => type switch
    {
        NiftiDataType.UInt8 => bytes[(int)index],
        NiftiDataType.Int8 => (sbyte)bytes[(int)index],
        NiftiDataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(bytes[(int)(index * 2)..]),
        NiftiDataType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(bytes[(int)(index * 2)..]),
        NiftiDataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(bytes[(int)(index * 4)..]),
        NiftiDataType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(bytes[(int)(index * 4)..]),
        _ => BinaryPrimitives.ReadDoubleLittleEndian(bytes[(int)(index * 8)..]),
    };

    private static void WriteValue(NiftiDataType type, Span<byte> bytes, double value)
    {
        switch (type)
        {
            case NiftiDataType.UInt8: bytes[0] = (byte)value; break;
            case NiftiDataType.Int8: bytes[0] = (byte)(sbyte)value; break;
            case NiftiDataType.Int16: BinaryPrimitives.WriteInt16LittleEndian(bytes, (short)value); break;
            case NiftiDataType.UInt16: BinaryPrimitives.WriteUInt16LittleEndian(bytes, (ushort)value); break;
            case NiftiDataType.Int32: BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)value); break;
            case NiftiDataType.Float32: BinaryPrimitives.WriteSingleLittleEndian(bytes, (float)value); break;
            default: BinaryPrimitives.WriteDoubleLittleEndian(bytes, value); break;
        }
    }
}
