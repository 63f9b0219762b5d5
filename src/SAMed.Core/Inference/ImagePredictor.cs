using SAMed.IO;

namespace SAMed.Inference;

/// <summary>One predicted 2D image: where it came from and went, its [H, W] size, pixels per class (index = label).</summary>
public sealed record ImagePredictResult(string Input, string Output, int Height, int Width, long[] ClassPixels, string? Overlay);

/// <summary>
/// Segments 2D images (PNG, JPEG, BMP, TIFF; grey or RGB, read as prepare reads them: samples scaled to [0, 1],
/// colour kept as three channels) into grey PNG label maps of the same size (pixel value = class id), and with an
/// overlay folder also a PNG of the image with every class painted in its colour.
/// </summary>
public sealed class ImagePredictor(ISliceSegmenter segmenter, int batchSize = 8)
{
    private const double Alpha = 0.45;

    /// <summary>
    /// (input, output) pairs: an image file to a .png file (or into a folder), or every image of a folder to
    /// OUTPUT/NAME.png. Checked before any model work.
    /// </summary>
    public static IReadOnlyList<(string Input, string Output)> Jobs(string input, string output)
    {
        if (File.Exists(input))
        {
            if (!ImageFile.IsImage(input))
                throw new ArgumentException($"{input}: not a PNG, JPEG, BMP or TIFF image");
            string target = output.EndsWith(".png", StringComparison.OrdinalIgnoreCase)
                ? output
                : Path.Combine(output, Path.GetFileNameWithoutExtension(input) + ".png");
            return [(input, target)];
        }
        if (!Directory.Exists(input))
            throw new FileNotFoundException($"{input}: no such image file or folder", input);
        if (output.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"{output}: the input {input} is a folder; give an output folder");
        var images = Directory.EnumerateFiles(input).Where(ImageFile.IsImage).Order(StringComparer.Ordinal).ToList();
        if (images.Count == 0)
            throw new InvalidDataException($"{input}: no images found ({string.Join(", ", ImageFile.Extensions)})");
        var jobs = images.Select(i => (i, Path.Combine(output, Path.GetFileNameWithoutExtension(i) + ".png"))).ToList();
        var clash = jobs.GroupBy(j => j.Item2, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null)
            throw new ArgumentException($"{string.Join(" and ", clash.Select(j => j.i))} would both be written to {clash.Key}; rename one");
        return jobs;
    }

    /// <summary>Predicts every job in batches; each image is read and written on its own, so a bad file names itself.</summary>
    public IReadOnlyList<ImagePredictResult> Predict(
        IReadOnlyList<(string Input, string Output)> jobs, string? overlayDir = null, Action<int, int>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var results = new List<ImagePredictResult>(jobs.Count);
        for (int start = 0; start < jobs.Count; start += batchSize)
        {
            var batch = jobs.Skip(start).Take(batchSize).ToList();
            var images = batch.Select(j => ImageFile.ReadPlanes(j.Input)).ToList();
            var maps = segmenter.Segment(images);
            for (int i = 0; i < batch.Count; i++)
            {
                var (input, output) = batch[i];
                ImageFile.WriteLabels(output, maps[i]);
                string? overlay = overlayDir is null ? null : Path.Combine(overlayDir, Path.GetFileNameWithoutExtension(output) + "_overlay.png");
                if (overlay is not null)
                    WriteOverlay(overlay, images[i], maps[i]);
                results.Add(new ImagePredictResult(input, output, maps[i].GetLength(0), maps[i].GetLength(1), Count(maps[i], segmenter.NumClasses), overlay));
            }
            progress?.Invoke(start + batch.Count, jobs.Count);
        }
        return results;
    }

    /// <summary>The image (grey repeated, or its colours) with every labelled pixel blended with its class colour.</summary>
    public static void WriteOverlay(string path, float[][,] image, int[,] labels)
    {
        int height = labels.GetLength(0), width = labels.GetLength(1);
        var rgb = new byte[height * width * 3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int i = (y * width + x) * 3;
                for (int c = 0; c < 3; c++)
                {
                    double value = Math.Clamp(image[image.Length == 1 ? 0 : c][y, x], 0f, 1f) * 255;
                    if (labels[y, x] > 0)
                    {
                        var colour = OverlayMontage.Colour(labels[y, x]);
                        double paint = c == 0 ? colour.R : c == 1 ? colour.G : colour.B;
                        value = (1 - Alpha) * value + Alpha * paint;
                    }
                    rgb[i + c] = (byte)Math.Round(value);
                }
            }
        }
        Png.WriteRgb(path, rgb, width, height);
    }

    private static long[] Count(int[,] labels, int numClasses)
    {
        var counts = new long[numClasses + 1];
        foreach (int label in labels)
            counts[Math.Clamp(label, 0, numClasses)]++;
        return counts;
    }
}
