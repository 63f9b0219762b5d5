using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// SAMed's Synapse_dataset for the train split: a list file names slices (e.g. case0005_slice012, one a line) and
/// each is read from DIRECTORY/NAME.npz (members image and label, 2D, same shape) when asked for, then passed
/// through the <see cref="RandomGenerator"/>. Bad files fail with a message naming the file.
/// </summary>
public sealed class SynapseDataset
{
    private readonly (float[,] Image, float[,] Label)[]? preloaded;

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
            : ((float[,])preloaded[index].Image.Clone(), (float[,])preloaded[index].Label.Clone());
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

    /// <summary>The slice as stored, validated: 2D image and label of one shape, finite image, integer labels in range.</summary>
    public (float[,] Image, float[,] Label) ReadSlice(int index)
    {
        if (index < 0 || index >= Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"the dataset has {Count} slices");
        string path = PathOf(index);
        var members = Npz.Read(path, "image", "label");
        var (image, label) = (members[0], members[1]);
        if (image.Shape.Length != 2 || label.Shape.Length != 2)
            throw new InvalidDataException(
                $"{path}: image [{string.Join(", ", image.Shape)}] and label [{string.Join(", ", label.Shape)}] must both be 2D slices");
        if (!image.Shape.SequenceEqual(label.Shape))
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
        return (ToMatrix(imageValues, image.Shape), ToMatrix(labelValues, label.Shape));
    }

    private static float[,] ToMatrix(float[] values, long[] shape)
    {
        var matrix = new float[shape[0], shape[1]];
        Buffer.BlockCopy(values, 0, matrix, 0, values.Length * sizeof(float));
        return matrix;
    }
}
