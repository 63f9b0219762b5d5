namespace SAMed.Data;

/// <summary>
/// SAMed's RandomGenerator (datasets/dataset_synapse.py): with probability 0.5 random_rot_flip (rot90 by k in 0..3,
/// then a flip along a random axis), otherwise with probability 0.5 random_rotate (integer angle in [-20, 19],
/// order 0, reshape off); the same geometry for image and label. Then, if the shape differs from the output size,
/// the image is zoomed with order 3 and the label with order 0, and the low-resolution label is the label zoomed
/// with order 0 to the low-res size. Draws come from <see cref="DataLoaderRandom"/> in SAMed's order
/// (random.random(), then randint(0, 4), randint(0, 2) or random.random(), randint(-20, 20)), not numpy's stream.
/// A colour image is given as its channels (R, G, B planes): each gets the same rotation, flip and zoom.
/// </summary>
public sealed class RandomGenerator
{
    public RandomGenerator(int outputHeight, int outputWidth, int lowResHeight, int lowResWidth)
    {
        if (outputHeight <= 0 || outputWidth <= 0 || lowResHeight <= 0 || lowResWidth <= 0)
            throw new ArgumentOutOfRangeException(nameof(outputHeight),
                $"sizes must be positive, got output [{outputHeight}, {outputWidth}], low_res [{lowResHeight}, {lowResWidth}]");
        (OutputHeight, OutputWidth, LowResHeight, LowResWidth) = (outputHeight, outputWidth, lowResHeight, lowResWidth);
    }

    /// <summary>Square sizes as SAMed's trainer builds it: output [imageSize, imageSize], low_res [lowRes, lowRes].</summary>
    public RandomGenerator(int imageSize, int lowResSize)
        : this(imageSize, imageSize, lowResSize, lowResSize)
    {
    }

    public int OutputHeight { get; }
    public int OutputWidth { get; }
    public int LowResHeight { get; }
    public int LowResWidth { get; }

    /// <summary>The training transform: random geometry, then resizing.</summary>
    public SynapseSample Augment(float[,] image, float[,] label, DataLoaderRandom random, string caseName = "") =>
        Augment([image], label, random, caseName);

    /// <summary>The training transform on an image given as channels (one grey plane, or R, G, B).</summary>
    public SynapseSample Augment(float[][,] image, float[,] label, DataLoaderRandom random, string caseName = "")
    {
        ArgumentNullException.ThrowIfNull(random);
        CheckShapes(image, label);
        if (random.NextDouble() > 0.5)
        {
            int k = random.NextInt(0, 4);
            image = [.. image.Select(plane => NdimageOrientation.Rot90(plane, k))];
            label = NdimageOrientation.Rot90(label, k);
            int axis = random.NextInt(0, 2);
            image = [.. image.Select(plane => NdimageOrientation.Flip(plane, axis))];
            label = NdimageOrientation.Flip(label, axis);
        }
        else if (random.NextDouble() > 0.5)
        {
            int angle = random.NextInt(-20, 20);
            image = [.. image.Select(plane => Ndimage.Rotate(plane, angle))];
            label = Ndimage.Rotate(label, angle);
        }
        return Resize(image, label, caseName);
    }

    /// <summary>The evaluation-time transform: no augmentation, only the zooms.</summary>
    public SynapseSample Resize(float[,] image, float[,] label, string caseName = "") => Resize([image], label, caseName);

    /// <summary>The evaluation-time transform on an image given as channels.</summary>
    public SynapseSample Resize(float[][,] image, float[,] label, string caseName = "")
    {
        CheckShapes(image, label);
        int x = label.GetLength(0), y = label.GetLength(1);
        if (x != OutputHeight || y != OutputWidth)
        {
            image = [.. image.Select(plane => Ndimage.ZoomTo(plane, OutputHeight, OutputWidth, order: 3))];
            label = Ndimage.ZoomTo(label, OutputHeight, OutputWidth, order: 0);
        }
        var lowRes = Ndimage.ZoomTo(label, LowResHeight, LowResWidth, order: 0);
        return new SynapseSample(caseName, image, ToLong(label), ToLong(lowRes));
    }

    private static void CheckShapes(float[][,] image, float[,] label)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(label);
        if (image.Length is not (1 or SynapseSample.Channels))
            throw new ArgumentException($"an image has 1 (grey) or {SynapseSample.Channels} (colour) channels, not {image.Length}", nameof(image));
        foreach (var plane in image)
        {
            ArgumentNullException.ThrowIfNull(plane, nameof(image));
            if (plane.GetLength(0) != label.GetLength(0) || plane.GetLength(1) != label.GetLength(1))
                throw new ArgumentException(
                    $"image [{plane.GetLength(0)}, {plane.GetLength(1)}] and label [{label.GetLength(0)}, {label.GetLength(1)}] differ in shape");
        }
        if (label.Length == 0)
            throw new ArgumentException("image is empty", nameof(image));
    }

    /// <summary>torch's .long() of float32 values: truncation toward zero.</summary>
    private static long[,] ToLong(float[,] values)
    {
        var result = new long[values.GetLength(0), values.GetLength(1)];
        for (int i = 0; i < values.GetLength(0); i++)
        {
            for (int j = 0; j < values.GetLength(1); j++)
                result[i, j] = (long)values[i, j];
        }
        return result;
    }
}
