using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using SAMed.IO;

namespace SAMed.Tests.IO;

public class PngTests
{
    [Fact]
    public void GrayPngHoldsTheRowsAndValidChunks()
    {
        byte[] pixels = Enumerable.Range(0, 12).Select(i => (byte)(i * 20)).ToArray();
        var png = Decode(Png.EncodeGray(pixels, 4, 3));
        Assert.Equal((4, 3, (byte)0), (png.Width, png.Height, png.ColourType));
        Assert.Equal(15, png.Rows.Length);
        for (int y = 0; y < 3; y++)
        {
            Assert.Equal(0, png.Rows[y * 5]);
            Assert.Equal(pixels[(y * 4)..(y * 4 + 4)], png.Rows[(y * 5 + 1)..(y * 5 + 5)]);
        }
    }

    [Fact]
    public void RgbPngHoldsTheRowsAndValidChunks()
    {
        byte[] rgb = Enumerable.Range(0, 18).Select(i => (byte)(i * 13 + 1)).ToArray();
        var png = Decode(Png.EncodeRgb(rgb, 3, 2));
        Assert.Equal((3, 2, (byte)2), (png.Width, png.Height, png.ColourType));
        Assert.Equal(20, png.Rows.Length);
        for (int y = 0; y < 2; y++)
        {
            Assert.Equal(0, png.Rows[y * 10]);
            Assert.Equal(rgb[(y * 9)..(y * 9 + 9)], png.Rows[(y * 10 + 1)..(y * 10 + 10)]);
        }
    }

    [Fact]
    public void WrongPixelCountsAreRejected()
    {
        Assert.Contains("needs 12 pixels, got 11", Assert.Throws<ArgumentException>(() => Png.EncodeGray(new byte[11], 4, 3)).Message);
        Assert.Contains("needs 36 bytes, got 12", Assert.Throws<ArgumentException>(() => Png.EncodeRgb(new byte[12], 4, 3)).Message);
        Assert.Throws<ArgumentException>(() => Png.EncodeGray([], 0, 3));
    }

    [Fact]
    public void WriteRgbReplacesTheFileAndLeavesNoTemporary()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"samed-png-{Guid.NewGuid():N}");
        try
        {
            string path = Path.Combine(directory, "nested", "image.png");
            Png.WriteRgb(path, new byte[2 * 2 * 3], 2, 2);
            byte[] rgb = [.. Enumerable.Range(0, 12).Select(i => (byte)i)];
            Png.WriteRgb(path, rgb, 2, 2);
            Assert.Equal(Png.EncodeRgb(rgb, 2, 2), File.ReadAllBytes(path));
            AssertValidRgbPng(File.ReadAllBytes(path));
            Assert.Equal(["image.png"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>A whole, CRC-correct 8-bit RGB PNG with one filter byte and 3 bytes per pixel in each row.</summary>
    internal static void AssertValidRgbPng(byte[] bytes)
    {
        var png = Decode(bytes);
        Assert.Equal(2, png.ColourType);
        Assert.True(png.Width > 0 && png.Height > 0);
        Assert.Equal((long)png.Height * (1 + 3 * png.Width), png.Rows.Length);
    }

    /// <summary>Checks the signature and every chunk's CRC; returns the header fields and the inflated IDAT rows.</summary>
    internal static DecodedPng Decode(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a }, png[..8]);
        int offset = 8;
        int width = 0, height = 0;
        byte colourType = 255;
        using var idat = new MemoryStream();
        while (offset < png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(offset));
            string type = Encoding.ASCII.GetString(png, offset + 4, 4);
            var body = png.AsSpan(offset + 8, length);
            Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset + 8 + length)), Crc32.HashToUInt32(png.AsSpan(offset + 4, 4 + length)));
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(body);
                height = BinaryPrimitives.ReadInt32BigEndian(body[4..]);
                Assert.Equal(8, body[8]);
                colourType = body[9];
            }
            if (type == "IDAT")
                idat.Write(body);
            offset += 12 + length;
        }
        idat.Position = 0;
        using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        zlib.CopyTo(raw);
        return new DecodedPng(width, height, colourType, raw.ToArray());
    }

    internal sealed record DecodedPng(int Width, int Height, byte ColourType, byte[] Rows);
}
