using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// SAMed's Synapse_dataset for the train split: a list file names slices (e.g. case0005_slice012, one a line) and
/// each is read from DIRECTORY/NAME.npz (members image and label, 2D, same shape; a colour image is [H, W, 3]) when
/// asked for, then passed through the <see cref="RandomGenerator"/>. Bad files fail with a message naming the file.
/// </summary>
public sealed class SynapseDataset
{
    private readonly (float[][,] Image, float[,] Label)[]? preloaded;

    public SynapseDataset(string dataDirectory, string listFile, RandomGenerator transform, SynapseDatasetOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        ArgumentNullException.ThrowIfNull(listFile);
        ArgumentNullException.ThrowIfNull(transform);
        if (!Directory.Exists(dataDirectory))
            throw new DirectoryNotFoundException($"{dataDirectory}: data directory not found");
        if (!File.Exists(listFile))
            throw new FileNotFoundException($"{listFile}: list file not found", listFile);
        DataDirectory = dataDirectory;
        Transform = transform;
        Options = options ?? new SynapseDatasetOptions();
        Names = File.ReadAllLines(listFile).Select(line => line.Trim()).Where(line => line.Length > 0).ToArray();
        if (Names.Count == 0)
            throw new InvalidDataException($"{listFile}: list file names no slices");
        if (Options.NumClasses is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), Options.NumClasses, "NumClasses must be at least 1");
        if (Options.Preload)
            preloaded = Enumerable.Range(0, Names.Count).Select(ReadSlice).ToArray();
    }

    /// <summary>SAMed's layout: ROOT/train_npz/NAME.npz for the names in the list file (e.g. lists/lists_Synapse/train.txt).</summary>
    public static SynapseDataset FromRoot(string root, string listFile, RandomGenerator transform, SynapseDatasetOptions? options = null) =>
        new(Path.Combine(root, "train_npz"), listFile, transform, options);

    public string DataDirectory { get; }
    public RandomGenerator Transform { get; }
    public SynapseDatasetOptions Options { get; }
    public IReadOnlyList<string> Names { get; }
    public int Count => Names.Count;

    public string PathOf(int index) => Path.Combine(DataDirectory, Names[index] + ".npz");

    /// <summary>
    /// The sample at index: augmented with the given stream, or only resized (the evaluation path) when it is null.
    /// </summary>
    public SynapseSample Get(int index, DataLoaderRandom? random)
    {
        // Preloaded arrays are shared between calls and threads; the transform must not see them as its own.
        var (image, label) = preloaded is null
            ? ReadSlice(index)
            : ([.. preloaded[index].Image.Select(plane => (float[,])plane.Clone())], (float[,])preloaded[index].Label.Clone());
        try
        {
            return random is null
                ? Transform.Resize(image, label, Names[index])
                : Transform.Augment(image, label, random, Names[index]);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{PathOf(index)}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The slice as stored, validated: image [H, W] (grey) or [H, W, 3] (colour) and label [H, W], finite image,
    /// integer labels in range. The image comes back as its channels (one plane, or R, G, B).
    /// </summary>
    public (float[][,] Image, float[,] Label) ReadSlice(int index)
    {
        if (index < 0 || index >= Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"the dataset has {Count} slices");
        string path = PathOf(index);
        var members = Npz.Read(path, "image", "label");
        var (image, label) = (members[0], members[1]);
        bool colour = image.Shape.Length == 3 && image.Shape[2] == SynapseSample.Channels;
        if ((image.Shape.Length != 2 && !colour) || label.Shape.Length != 2)
            throw new InvalidDataException(
                $"{path}: image [{string.Join(", ", image.Shape)}] and label [{string.Join(", ", label.Shape)}] must be 2D slices (a colour image [H, W, 3])");
        if (!image.Shape.Take(2).SequenceEqual(label.Shape))
            throw new InvalidDataException(
                $"{path}: image [{string.Join(", ", image.Shape)}] and label [{string.Join(", ", label.Shape)}] differ in shape");
        if (image.Count == 0)
            throw new InvalidDataException($"{path}: the slice is empty");

        var imageValues = image.ToFloat();
        int bad = Array.FindIndex(imageValues, v => !float.IsFinite(v));
        if (bad >= 0)
            throw new InvalidDataException($"{path}: image has a non-finite value ({imageValues[bad]}) at flat index {bad}");
        var labelValues = label.ToFloat();
        for (int i = 0; i < labelValues.Length; i++)
        {
            float v = labelValues[i];
            if (!float.IsFinite(v) || v < 0 || v != MathF.Floor(v) || (Options.NumClasses is int classes && v > classes))
            {
                string allowed = Options.NumClasses is int n ? $"an integer in 0..{n}" : "a non-negative integer";
                throw new InvalidDataException($"{path}: label value {v} at flat index {i} is not {allowed}");
            }
        }
        var planes = colour ? Planes(imageValues, label.Shape) : [ToMatrix(imageValues, label.Shape)];
        return (planes, ToMatrix(labelValues, label.Shape));
    }

    /// <summary>Channels-last [H, W, 3] values as three [H, W] planes.</summary>
    private static float[][,] Planes(float[] values, long[] shape)
    {
        int height = (int)shape[0], width = (int)shape[1];
        var planes = new float[SynapseSample.Channels][,];
        for (int c = 0; c < planes.Length; c++)
        {
            var plane = new float[height, width];
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    plane[y, x] = values[(y * width + x) * SynapseSample.Channels + c];
            planes[c] = plane;
        }
        return planes;
    }

    private static float[,] ToMatrix(float[] values, long[] shape)
    {
        var matrix = new float[shape[0], shape[1]];
        Buffer.BlockCopy(values, 0, matrix, 0, values.Length * sizeof(float));
        return matrix;
    }
}
