using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace SAMed.IO;

/// <summary>Encodes 8-bit grayscale and RGB images as PNG (filter 0 rows, one zlib-compressed IDAT).</summary>
public static class Png
{
    private const byte GrayColourType = 0;
    private const byte RgbColourType = 2;
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a];

    /// <summary>Pixels row by row, one byte each.</summary>
    public static byte[] EncodeGray(ReadOnlySpan<byte> pixels, int width, int height)
    {
        if (width <= 0 || height <= 0 || pixels.Length != (long)width * height)
            throw new ArgumentException($"a {width}x{height} image needs {(long)width * height} pixels, got {pixels.Length}");
        return Encode(pixels, width, height, 1, GrayColourType);
    }

    /// <summary>Pixels row by row, 3 bytes (R, G, B) each.</summary>
    public static byte[] EncodeRgb(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (width <= 0 || height <= 0 || rgb.Length != (long)width * height * 3)
            throw new ArgumentException($"a {width}x{height} RGB image needs {(long)width * height * 3} bytes, got {rgb.Length}");
        return Encode(rgb, width, height, 3, RgbColourType);
    }

    /// <summary>Writes an RGB PNG through a temporary file and a rename.</summary>
    public static void WriteRgb(string path, ReadOnlySpan<byte> rgb, int width, int height)
    {
        var bytes = EncodeRgb(rgb, width, height);
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    private static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, int channels, byte colourType)
    {
        using var output = new MemoryStream();
        output.Write(Signature);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = colourType;
        WriteChunk(output, "IHDR", header);
        using (var compressed = new MemoryStream())
        {
            using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            {
                int stride = width * channels;
                for (int y = 0; y < height; y++)
                {
                    zlib.WriteByte(0);
                    zlib.Write(pixels.Slice(y * stride, stride));
                }
            }
            WriteChunk(output, "IDAT", compressed.ToArray());
        }
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    private static void WriteChunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        var typeAndData = new byte[4 + data.Length];
        for (int i = 0; i < 4; i++)
            typeAndData[i] = (byte)type[i];
        data.CopyTo(typeAndData.AsSpan(4));
        output.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.HashToUInt32(typeAndData));
        output.Write(word);
    }
}
