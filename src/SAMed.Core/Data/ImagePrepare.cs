using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// One 2D image and its mask as a prepared case: a volume of one slice whose image is the file's samples divided by
/// the bit depth's maximum ([0, 1]; grey as one channel, colour as three, channels last) and whose labels come from the
/// mask: its grey values through the label map, pixels above half the maximum as class 1 with
/// <see cref="PrepareOptions.BinaryMasks"/>, or its colours through <see cref="PrepareOptions.MaskColors"/>.
/// </summary>
public static class ImagePrepare
{
    /// <summary>Before any work: both files are readable images of one size.</summary>
    public static void CheckHeaders(PrepareCase c)
    {
        var image = ImageFile.ReadSize(c.ImagePath);
        var mask = ImageFile.ReadSize(c.LabelPath);
        CheckSameSize(c, image, mask);
    }

    public static PreparedVolume Load(PrepareCase c, PrepareOptions options)
    {
        var planes = ImageFile.ReadPlanes(c.ImagePath);
        int height = planes[0].GetLength(0), width = planes[0].GetLength(1), channels = planes.Length;
        var mask = ImageFile.Read(c.LabelPath);
        CheckSameSize(c, (height, width), (mask.Height, mask.Width));
        var (labels, counts, unlisted) = Labels(mask, options);

        var image = new float[height * width * channels];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int ch = 0; ch < channels; ch++)
                    image[(y * width + x) * channels + ch] = planes[ch][y, x];
        return new PreparedVolume(c.Name, 1, height, width, image, labels, c.LabelPath)
        {
            Channels = channels,
            FromImageFile = true,
            LabelVoxels = counts,
            UnlistedSourceVoxels = unlisted,
        };
    }

    private static (float[] Labels, SortedDictionary<int, long> Counts, SortedDictionary<int, long> Unlisted) Labels(
        RasterImage mask, PrepareOptions options)
    {
        if (options.MaskColors is { } colours)
            return ColourLabels(mask, colours);
        if (mask.Channels != 1)
        {
            int first = FirstColourPixel(mask);
            string what = mask.Palette
                ? "is a palette PNG with colours (the palette index is not read)"
                : "is a colour mask";
            throw new InvalidDataException($"{mask.Path}: {what}, e.g. {MaskColors.Format(Colour(mask, first))} at {Pixel(first, mask.Width)}; "
                + "give a colour map (--mask-colors MAP.json, {\"#RRGGBB\": class id}) or save the mask as grey label values");
        }

        var labels = new float[mask.Samples.Length];
        var counts = new SortedDictionary<int, long>();
        var unlisted = new SortedDictionary<int, long>();
        int threshold = mask.MaxValue / 2;
        for (int i = 0; i < labels.Length; i++)
        {
            int value = mask.Samples[i];
            int target;
            if (options.BinaryMasks)
            {
                target = value > threshold ? 1 : 0;
            }
            else
            {
                if (!options.LabelMap.TryMap(value, out target, out bool listed))
                    throw new InvalidDataException($"{mask.Path}: label {value} (first at {Pixel(i, mask.Width)}) is not in label map '{options.LabelMap.Name}'");
                if (!listed && options.LabelMap.Unlisted == UnlistedLabels.Background)
                    unlisted[value] = unlisted.GetValueOrDefault(value) + 1;
            }
            labels[i] = target;
            counts[target] = counts.GetValueOrDefault(target) + 1;
        }
        return (labels, counts, unlisted);
    }

    private static (float[] Labels, SortedDictionary<int, long> Counts, SortedDictionary<int, long> Unlisted) ColourLabels(
        RasterImage mask, MaskColors colours)
    {
        if (mask.BitDepth != 8)
            throw new InvalidDataException($"{mask.Path}: a 16-bit mask cannot be read through a colour map; save it with 8 bits per sample, or as grey label values without --mask-colors");
        int pixels = mask.Height * mask.Width;
        var labels = new float[pixels];
        var counts = new SortedDictionary<int, long>();
        for (int i = 0; i < pixels; i++)
        {
            int rgb = Colour(mask, i);
            if (!colours.TryMap(rgb, out int target))
                throw new InvalidDataException($"{mask.Path}: colour {MaskColors.Format(rgb)} at {Pixel(i, mask.Width)} is not in the colour map '{colours.Name}'");
            labels[i] = target;
            counts[target] = counts.GetValueOrDefault(target) + 1;
        }
        return (labels, counts, new SortedDictionary<int, long>());
    }

    private static int Colour(RasterImage mask, int pixel) => mask.Channels == 1
        ? MaskColors.Pack(mask.Samples[pixel], mask.Samples[pixel], mask.Samples[pixel])
        : MaskColors.Pack(mask.Samples[pixel * 3], mask.Samples[pixel * 3 + 1], mask.Samples[pixel * 3 + 2]);

    private static int FirstColourPixel(RasterImage mask)
    {
        for (int i = 0; i < mask.Height * mask.Width; i++)
        {
            var s = mask.Samples.AsSpan(i * 3, 3);
            if (s[0] != s[1] || s[1] != s[2])
                return i;
        }
        return 0;
    }

    private static void CheckSameSize(PrepareCase c, (int Height, int Width) image, (int Height, int Width) mask)
    {
        if (image != mask)
            throw new InvalidDataException($"{c.LabelPath}: mask is {mask.Width} x {mask.Height} pixels but its image {c.ImagePath} is {image.Width} x {image.Height}");
    }

    private static string Pixel(long index, int width) => $"pixel (x={index % width}, y={index / width})";
}
