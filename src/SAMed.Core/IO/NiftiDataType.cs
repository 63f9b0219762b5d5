namespace SAMed.IO;

/// <summary>The NIfTI-1 voxel data types this project reads and writes (values are the header's datatype codes).</summary>
public enum NiftiDataType : short
{
    UInt8 = 2,
    Int16 = 4,
    Int32 = 8,
    Float32 = 16,
    Float64 = 64,
    Int8 = 256,
    UInt16 = 512,
}

public static class NiftiDataTypes
{
    public static bool IsSupported(short code) => Enum.IsDefined((NiftiDataType)code);

    public static int ItemSize(this NiftiDataType type) => type switch
    {
        NiftiDataType.UInt8 or NiftiDataType.Int8 => 1,
        NiftiDataType.Int16 or NiftiDataType.UInt16 => 2,
        NiftiDataType.Int32 or NiftiDataType.Float32 => 4,
        NiftiDataType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a supported NIfTI data type"),
    };

    public static bool IsFloatingPoint(this NiftiDataType type) => type is NiftiDataType.Float32 or NiftiDataType.Float64;

    /// <summary>The smallest and largest value the type holds.</summary>
    public static (double Min, double Max) Range(this NiftiDataType type) => type switch
    {
        NiftiDataType.UInt8 => (byte.MinValue, byte.MaxValue),
        NiftiDataType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
        NiftiDataType.Int16 => (short.MinValue, short.MaxValue),
        NiftiDataType.UInt16 => (ushort.MinValue, ushort.MaxValue),
        NiftiDataType.Int32 => (int.MinValue, int.MaxValue),
        NiftiDataType.Float32 => (float.MinValue, float.MaxValue),
        _ => (double.MinValue, double.MaxValue),
    };

    /// <summary>The smallest integer type that holds every label in [min, max] (uint8 for 0..255).</summary>
    public static NiftiDataType ForLabels(long min, long max)
    {
        foreach (var type in new[] { NiftiDataType.UInt8, NiftiDataType.Int16, NiftiDataType.UInt16, NiftiDataType.Int32 })
        {
            var (low, high) = type.Range();
            if (min >= low && max <= high)
                return type;
        }
        throw new ArgumentOutOfRangeException(nameof(max), $"labels in [{min}, {max}] do not fit a 32-bit NIfTI integer type");
    }
}
