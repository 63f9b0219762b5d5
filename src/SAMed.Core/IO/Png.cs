using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace SAMed.IO;

/// <summary>
/// 8-bit grey and RGB PNGs (overlays, montages, TensorBoard images) through SixLabors.ImageSharp, with unfiltered rows
/// (filter type 0) as <see cref="ImageFile.WriteLabels"/> writes label maps.
/// </summary>
public static class Png
{
    /// <summary>Pixels row by row, one byte each.</summary>
    public static byte[] EncodeGray(ReadOnlySpan<byte> pixels, int width, int height)
    {
        if (width <= 0 || height <= 0 || pixels.Length != (long)width * height)
            throw new ArgumentException($"a {width}x{height} image needs {(long)width * height} pixels, got {pixels.Length}");
        using var image = Image.LoadPixelData<L8>(pixels, width, height);
        return Encode(image, PngColorType.Grayscale);
    }

    /// <summary>Pixels row by row, 3 bytes (R, G, B) each.</summary>
    public static byte[] EncodeRgb(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (width <= 0 || height <= 0 || rgb.Length != (long)width * height * 3)
            throw new ArgumentException($"a {width}x{height} RGB image needs {(long)width * height * 3} bytes, got {rgb.Length}");
        using var image = Image.LoadPixelData<Rgb24>(rgb, width, height);
        return Encode(image, PngColorType.Rgb);
    }

    /// <summary>Writes an RGB PNG through a temporary file and a rename.</summary>
    public static void WriteRgb(string path, ReadOnlySpan<byte> rgb, int width, int height)
    {
        var bytes = EncodeRgb(rgb, width, height);
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    /// <summary>An 8-bit encoder of the given colour type with unfiltered rows.</summary>
    internal static PngEncoder Encoder(PngColorType colorType, PngBitDepth depth = PngBitDepth.Bit8) => new()
    {
        ColorType = colorType,
        BitDepth = depth,
        FilterMethod = PngFilterMethod.None,
    };

    private static byte[] Encode(Image image, PngColorType colorType)
    {
        using var output = new MemoryStream();
        image.SaveAsPng(output, Encoder(colorType));
        return output.ToArray();
    }
}
