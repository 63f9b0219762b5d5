using System.Numerics;

namespace SAMed.IO;

/// <summary>
/// CRC-32C (Castagnoli), which TFRecord framing needs. System.IO.Hashing 10.0.0 offers only CRC-32 and CRC-64, so this
/// one stays hand-written (on the hardware CRC-32C instruction via BitOperations).
/// </summary>
public static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = ~0u;
        foreach (byte b in data)
            crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }

    /// <summary>TFRecord's masked CRC: rotate right by 15 and add a constant.</summary>
    public static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = Compute(data);
        return unchecked(((crc >> 15) | (crc << 17)) + 0xa282ead8u);
    }
}
