using System.Buffers.Binary;
using TorchSharp;

namespace SAMed.IO;

/// <summary>Element types of NumPy arrays that this project reads and writes.</summary>
public enum NpyType
{
    Bool,
    Int8,
    UInt8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    Float32,
    Float64,
}

/// <summary>A NumPy array held in C order as little-endian bytes.</summary>
public sealed record NpyArray(NpyType Type, long[] Shape, byte[] Data)
{
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);

    public static int ItemSize(NpyType type) => type switch
    {
        NpyType.Bool or NpyType.Int8 or NpyType.UInt8 => 1,
        NpyType.Int16 or NpyType.UInt16 => 2,
        NpyType.Int32 or NpyType.UInt32 or NpyType.Float32 => 4,
        _ => 8,
    };

    public static NpyArray FromFloat32(float[] values, params long[] shape) => From(NpyType.Float32, values, shape);
    /// <summary>A float32 [H, W] array (C order, as a .NET rectangular array is stored).</summary>
    public static NpyArray FromFloat32(float[,] values)
    {
        var flat = new float[values.Length];
        Buffer.BlockCopy(values, 0, flat, 0, values.Length * sizeof(float));
        return FromFloat32(flat, values.GetLength(0), values.GetLength(1));
    }

    public static NpyArray FromFloat64(double[] values, params long[] shape) => From(NpyType.Float64, values, shape);
    public static NpyArray FromInt64(long[] values, params long[] shape) => From(NpyType.Int64, values, shape);
    public static NpyArray FromUInt8(byte[] values, params long[] shape) => From(NpyType.UInt8, values, shape);

    private static NpyArray From<T>(NpyType type, T[] values, long[] shape) where T : unmanaged
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != values.Length)
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] holds {count} values, not {values.Length}");
        var bytes = new byte[values.Length * ItemSize(type)];
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).CopyTo(bytes);
        return new NpyArray(type, shape, bytes);
    }

    /// <summary>Every element converted to double, in C order.</summary>
    public double[] ToDouble()
    {
        var result = new double[Count];
        var span = Data.AsSpan();
        for (int i = 0; i < result.Length; i++)
            result[i] = ReadAsDouble(span, i);
        return result;
    }

    public float[] ToFloat()
    {
        if (Type == NpyType.Float32)
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Data).ToArray();
        return ToDouble().Select(v => (float)v).ToArray();
    }

    public long[] ToInt64()
    {
        if (Type == NpyType.Int64)
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(Data).ToArray();
        var span = Data.AsSpan();
        var result = new long[Count];
        for (int i = 0; i < result.Length; i++)
            result[i] = Type switch
            {
                NpyType.Bool or NpyType.UInt8 => span[i],
                NpyType.Int8 => (sbyte)span[i],
                NpyType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(span[(i * 2)..]),
                NpyType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(span[(i * 2)..]),
                NpyType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(span[(i * 4)..]),
                NpyType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(span[(i * 4)..]),
                NpyType.UInt64 => (long)BinaryPrimitives.ReadUInt64LittleEndian(span[(i * 8)..]),
                _ => checked((long)ReadAsDouble(span, i)),
            };
        return result;
    }

    private double ReadAsDouble(ReadOnlySpan<byte> span, int i) => Type switch
    {
        NpyType.Bool or NpyType.UInt8 => span[i],
        NpyType.Int8 => (sbyte)span[i],
        NpyType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(span[(i * 2)..]),
        NpyType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(span[(i * 2)..]),
        NpyType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(span[(i * 4)..]),
        NpyType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(span[(i * 4)..]),
        NpyType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(span[(i * 8)..]),
        NpyType.UInt64 => BinaryPrimitives.ReadUInt64LittleEndian(span[(i * 8)..]),
        NpyType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(span[(i * 4)..]),
        _ => BinaryPrimitives.ReadDoubleLittleEndian(span[(i * 8)..]),
    };

    /// <summary>A CPU tensor of the array's own element type and shape.</summary>
    public torch.Tensor ToTensor()
    {
        var dtype = Type switch
        {
            NpyType.Bool => torch.ScalarType.Bool,
            NpyType.Int8 => torch.ScalarType.Int8,
            NpyType.UInt8 => torch.ScalarType.Byte,
            NpyType.Int16 => torch.ScalarType.Int16,
            NpyType.Int32 => torch.ScalarType.Int32,
            NpyType.Int64 => torch.ScalarType.Int64,
            NpyType.Float32 => torch.ScalarType.Float32,
            NpyType.Float64 => torch.ScalarType.Float64,
            _ => throw new NotSupportedException($"no tensor type for NumPy {Type}; convert with ToInt64 or ToDouble"),
        };
        var tensor = torch.empty(Shape, dtype);
        tensor.bytes = Data;
        return tensor;
    }
}
