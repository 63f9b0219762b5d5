namespace SAMed.Data;

/// <summary>
/// SAMed's Synapse data layout: training slices at Root/train_npz/NAME.npz, test volumes at Root/test_vol_h5/NAME.npy.h5,
/// and the list files train.txt and test_vol.txt (one name a line) in ListDir (SAMed's lists/lists_Synapse).
/// TrainDir and TestDir can be set apart from Root (see <see cref="FromSamedPaths"/>); they do not follow a later
/// change of Root through <c>with</c>.
/// </summary>
public sealed record SynapseLayout(string Root, string ListDir)
{
    public const string TrainDirName = "train_npz";
    public const string TestDirName = "test_vol_h5";
    public const string TrainListName = "train.txt";
    public const string TestListName = "test_vol.txt";

    /// <summary>A layout whose list files sit in the data root itself.</summary>
    public SynapseLayout(string root)
        : this(root, root)
    {
    }

    public string TrainDir { get; init; } = Path.Combine(Root, TrainDirName);
    public string TestDir { get; init; } = Path.Combine(Root, TestDirName);
    /// <summary>
    /// The layout of SAMed's own arguments: --root_path is the train_npz folder itself, --volume_path the test_vol_h5
    /// folder (default: test_vol_h5 beside root_path), --list_dir the folder of the list files.
    /// </summary>
    public static SynapseLayout FromSamedPaths(string rootPath, string listDir, string? volumePath = null)
    {
        string trainDir = Path.TrimEndingDirectorySeparator(rootPath);
        string parent = Path.GetDirectoryName(trainDir) is { Length: > 0 } dir ? dir : ".";
        return new SynapseLayout(parent, listDir) { TrainDir = trainDir, TestDir = volumePath ?? Path.Combine(parent, TestDirName) };
    }

    public string TrainListPath => Path.Combine(ListDir, TrainListName);
    public string TestListPath => Path.Combine(ListDir, TestListName);

    public string TrainSlicePath(string name) => Path.Combine(TrainDir, name + ".npz");
    public string TestVolumePath(string name) => Path.Combine(TestDir, name + ".npy.h5");

    public IReadOnlyList<string> ReadTrainNames() => ReadList(TrainListPath);
    public IReadOnlyList<string> ReadTestNames() => ReadList(TestListPath);

    /// <summary>The non-empty, trimmed lines of a list file; a missing or empty list is an error naming the file.</summary>
    public static IReadOnlyList<string> ReadList(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: list file not found", path);
        var names = File.ReadLines(path).Select(line => line.Trim()).Where(line => line.Length > 0).ToList();
        if (names.Count == 0)
            throw new InvalidDataException($"{path}: list file is empty (it must name at least one case or slice)");
        return names;
    }

    /// <summary>Writes one name a line (newline-terminated, like SAMed's lists) through a temporary file and a rename.</summary>
    public static void WriteList(string path, IEnumerable<string> names)
    {
        var lines = names.ToList();
        foreach (string name in lines)
        {
            if (string.IsNullOrWhiteSpace(name) || name != name.Trim() || name.Contains('\n') || name.Contains('\r'))
                throw new ArgumentException($"{path}: list entry '{name}' must be a non-empty name without surrounding spaces or line breaks");
        }
        if (lines.Count == 0)
            throw new ArgumentException($"{path}: refusing to write an empty list");
        IO.AtomicFile.WriteText(path, string.Concat(lines.Select(name => name + "\n")));
    }
}
