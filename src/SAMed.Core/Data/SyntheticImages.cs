using System.Globalization;
using SAMed.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace SAMed.Data;

/// <summary>
/// A small 2D data set in the form the field ships them (a folder of images, a folder of masks of the same names):
/// colour (or grey) PNG pictures of a textured background with one ellipse per class, each class its own hue, and
/// grey PNG masks whose values are the class ids. Seeded: the same arguments give the same files.
/// </summary>
public static class SyntheticImages
{
    /// <summary>Per-class colours (R, G, B); grey images use their mean.</summary>
    private static readonly (int R, int G, int B)[] ClassColours = [(220, 60, 50), (60, 90, 220), (70, 200, 80), (230, 210, 60), (190, 80, 210)];

    /// <summary>Writes DIR/images/imageNNN.png and DIR/masks/imageNNN.png; returns the image names.</summary>
    public static IReadOnlyList<string> Write(string directory, int count, int size, int numClasses, bool colour = true, int seed = 1234)
    {
        if (count < 1 || size < 16 || numClasses is < 1 or > 5)
            throw new ArgumentOutOfRangeException(nameof(count), $"need count >= 1, size >= 16 and 1..5 classes, got {count}, {size}, {numClasses}");
        var names = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            string name = "image" + (i + 1).ToString("D3", CultureInfo.InvariantCulture);
            var (rgb, labels) = Draw(size, numClasses, SyntheticRandom.For(seed, i));
            WriteImage(Path.Combine(directory, "images", name + ".png"), rgb, size, colour);
            ImageFile.WriteLabels(Path.Combine(directory, "masks", name + ".png"), labels);
            names.Add(name);
        }
        return names;
    }

    private static (byte[] Rgb, int[,] Labels) Draw(int size, int numClasses, SyntheticRandom random)
    {
        var rgb = new byte[size * size * 3];
        var labels = new int[size, size];
        for (int i = 0; i < size * size; i++)
        {
            int v = Math.Clamp((int)(110 + 25 * random.NextGaussian()), 0, 255);
            (rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]) = ((byte)v, (byte)(v * 0.9), (byte)(v * 0.8));
        }
        for (int k = 1; k <= numClasses; k++)
        {
            double cy = random.Uniform(0.25, 0.75) * size, cx = random.Uniform(0.25, 0.75) * size;
            double ry = random.Uniform(0.1, 0.22) * size, rx = random.Uniform(0.1, 0.22) * size;
            var (r, g, b) = ClassColours[k - 1];
            for (int y = 0; y < size; y++)
            {
                for (int x = 0; x < size; x++)
                {
                    double dy = (y - cy) / ry, dx = (x - cx) / rx;
                    if (dy * dy + dx * dx > 1)
                        continue;
                    labels[y, x] = k;
                    int i = (y * size + x) * 3;
                    double shade = 0.85 + 0.15 * random.NextDouble();
                    (rgb[i], rgb[i + 1], rgb[i + 2]) = ((byte)(r * shade), (byte)(g * shade), (byte)(b * shade));
                }
            }
        }
        return (rgb, labels);
    }

    private static void WriteImage(string path, byte[] rgb, int size, bool colour)
    {
        if (colour)
        {
            using var image = Image.LoadPixelData<Rgb24>(rgb, size, size);
            AtomicFile.Write(path, stream => image.SaveAsPng(stream));
            return;
        }
        var grey = new byte[size * size];
        for (int i = 0; i < grey.Length; i++)
            grey[i] = (byte)((rgb[i * 3] + rgb[i * 3 + 1] + rgb[i * 3 + 2]) / 3);
        using var greyImage = Image.LoadPixelData<L8>(grey, size, size);
        AtomicFile.Write(path, stream => greyImage.SaveAsPng(stream));
    }
}
