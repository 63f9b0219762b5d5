using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace SAMed.IO;

/// <summary>
/// A decoded 2D image file: [Height, Width] pixels with Channels (1 grey, 3 RGB) samples each, stored channels-last
/// in <see cref="Samples"/> as the file's integers (0..255, or 0..65535 when <see cref="BitDepth"/> is 16).
/// <see cref="Palette"/> is set for palette (indexed-colour) PNGs, whose samples are the palette's colours.
/// </summary>
public sealed record RasterImage(string Path, int Height, int Width, int Channels, int BitDepth, int[] Samples, bool Palette)
{
    /// <summary>The largest sample value of the bit depth (255 or 65535).</summary>
    public int MaxValue => (1 << BitDepth) - 1;
}

/// <summary>
/// 2D image files (PNG, JPEG, BMP, TIFF, 8 or 16 bits per sample, grey or colour) through SixLabors.ImageSharp.
/// An image is grey when every pixel has R = G = B (so a grey image saved as RGB stays grey); the alpha channel is
/// dropped. Every failure is an exception whose message starts with the file's path.
/// </summary>
public static class ImageFile
{
    /// <summary>The extensions read as 2D images.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"];

    public static bool IsImage(string path) =>
        Extensions.Contains(System.IO.Path.GetExtension(path).ToLowerInvariant());

    /// <summary>Width and height from the header alone.</summary>
    public static (int Height, int Width) ReadSize(string path)
    {
        RequireFile(path);
        try
        {
            var info = Image.Identify(path) ?? throw new UnknownImageFormatException("no known image header");
            return (info.Height, info.Width);
        }
        catch (Exception e) when (e is UnknownImageFormatException or InvalidImageContentException or NotSupportedException)
        {
            throw Unreadable(path, e);
        }
    }

    /// <summary>Decodes the pixels; 16-bit PNG and TIFF samples keep their 16 bits.</summary>
    public static RasterImage Read(string path)
    {
        RequireFile(path);
        try
        {
            using var image = Image.Load(path, out IImageFormat format);
            bool palette = image.Metadata.GetPngMetadata() is { ColorType: PngColorType.Palette } && format is PngFormat;
            bool sixteen = image is Image<L16> or Image<La32> or Image<Rgb48> or Image<Rgba64>;
            return sixteen ? Samples16(path, image, palette) : Samples8(path, image, palette);
        }
        catch (Exception e) when (e is UnknownImageFormatException or InvalidImageContentException or NotSupportedException or ImageFormatException)
        {
            throw Unreadable(path, e);
        }
    }

    /// <summary>
    /// The image as the model reads it: one [H, W] plane (grey) or three (R, G, B), samples divided by the bit
    /// depth's maximum to [0, 1] (SAMed's inputs are in [0, 1]).
    /// </summary>
    public static float[][,] ReadPlanes(string path)
    {
        var image = Read(path);
        float scale = image.MaxValue;
        var planes = new float[image.Channels][,];
        for (int c = 0; c < image.Channels; c++)
        {
            var plane = new float[image.Height, image.Width];
            for (int y = 0; y < image.Height; y++)
                for (int x = 0; x < image.Width; x++)
                    plane[y, x] = image.Samples[(y * image.Width + x) * image.Channels + c] / scale;
            planes[c] = plane;
        }
        return planes;
    }

    /// <summary>A label map as a grey PNG: 8 bits when every label is below 256, else 16 bits.</summary>
    public static void WriteLabels(string path, int[,] labels)
    {
        int height = labels.GetLength(0), width = labels.GetLength(1);
        int max = 0;
        foreach (int label in labels)
        {
            if (label is < 0 or > ushort.MaxValue)
                throw new ArgumentException($"{path}: label {label} does not fit a 16-bit PNG");
            max = Math.Max(max, label);
        }
        if (max <= byte.MaxValue)
            WriteGrey(path, labels, label => new L8((byte)label), PngBitDepth.Bit8);
        else
            WriteGrey(path, labels, label => new L16((ushort)label), PngBitDepth.Bit16);
    }

    private static void WriteGrey<TPixel>(string path, int[,] labels, Func<int, TPixel> pixel, PngBitDepth depth)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        int height = labels.GetLength(0), width = labels.GetLength(1);
        using var image = new Image<TPixel>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < width; x++)
                    row[x] = pixel(labels[y, x]);
            }
        });
        AtomicFile.Write(path, stream => image.SaveAsPng(stream, Png.Encoder(PngColorType.Grayscale, depth)));
    }

    private static RasterImage Samples8(string path, Image image, bool palette) =>
        Samples<Rgba32>(path, image, palette, 8, p => (p.R, p.G, p.B));

    private static RasterImage Samples16(string path, Image image, bool palette) =>
        Samples<Rgba64>(path, image, palette, 16, p => (p.R, p.G, p.B));

    /// <summary>The pixels as R, G, B integers of the bit depth, through a copy in <typeparamref name="TPixel"/>.</summary>
    private static RasterImage Samples<TPixel>(string path, Image image, bool palette, int bitDepth, Func<TPixel, (int R, int G, int B)> channels)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        using var copy = image.CloneAs<TPixel>();
        int height = copy.Height, width = copy.Width;
        var rgb = new int[height * width * 3];
        bool grey = true;
        copy.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < width; x++)
                {
                    var (r, g, b) = channels(row[x]);
                    int i = (y * width + x) * 3;
                    (rgb[i], rgb[i + 1], rgb[i + 2]) = (r, g, b);
                    grey &= r == g && g == b;
                }
            }
        });
        return Finish(path, height, width, bitDepth, rgb, grey, palette);
    }

    private static RasterImage Finish(string path, int height, int width, int bitDepth, int[] rgb, bool grey, bool palette)
    {
        if (!grey)
            return new RasterImage(path, height, width, 3, bitDepth, rgb, palette);
        var samples = new int[height * width];
        for (int i = 0; i < samples.Length; i++)
            samples[i] = rgb[i * 3];
        return new RasterImage(path, height, width, 1, bitDepth, samples, palette);
    }

    private static void RequireFile(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: image file not found", path);
    }

    private static InvalidDataException Unreadable(string path, Exception e) =>
        new($"{path}: not a readable PNG, JPEG, BMP or TIFF image ({e.Message})", e);
}
