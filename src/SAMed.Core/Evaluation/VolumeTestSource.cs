using SAMed.Data;
using SAMed.IO;

namespace SAMed.Evaluation;

/// <summary>Test volumes for <see cref="VolumeTester"/>: SAMed's test_vol_h5 list, or NIfTI image/label pairs.</summary>
public static class VolumeTestSource
{
    /// <summary>The volumes test_vol.txt lists, in layout.TestDir (see <see cref="FromList"/>).</summary>
    public static IReadOnlyList<VolumeTestItem> FromSynapse(SynapseLayout layout) => FromList(layout.TestListPath, layout.TestDir);

    /// <summary>
    /// The volumes a list file names (one NAME a line, read as NAME.npy.h5 in <paramref name="volumeDir"/>), read lazily
    /// one at a time. Every listed file must exist: a missing one is an error naming the list file and the volume
    /// before any is read.
    /// </summary>
    public static IReadOnlyList<VolumeTestItem> FromList(string listPath, string volumeDir)
    {
        if (!File.Exists(listPath))
            throw new FileNotFoundException($"{listPath}: test list not found", listPath);
        var names = SynapseLayout.ReadList(listPath);
        if (names.Count == 0)
            throw new InvalidDataException($"{listPath}: the test list names no volumes");
        string PathOf(string name) => Path.Combine(volumeDir, name + ".npy.h5");
        var missing = names.Where(n => !File.Exists(PathOf(n))).ToList();
        if (missing.Count > 0)
        {
            throw new FileNotFoundException(
                $"{listPath}: {missing.Count} listed volume(s) not found: {string.Join(", ", missing.Take(5).Select(PathOf))}"
                + (missing.Count > 5 ? ", ..." : ""));
        }
        return [.. names.Select(name => VolumeTestItem.H5(name, PathOf(name)))];
    }

    /// <summary>
    /// SAMed's --volume_path and --list_dir: the volumes of a data root (its test_vol_h5/) or of a folder of NAME.npy.h5
    /// files. The list is test_vol.txt in <paramref name="listDir"/> when given; otherwise the first found in the
    /// volume folder, the data root (where prepare and synth write it), the data root's lists/ and lists/lists_Synapse/;
    /// without one, every NAME.npy.h5 in the folder, by name. <paramref name="source"/> says which.
    /// </summary>
    public static IReadOnlyList<VolumeTestItem> FromVolumePath(string volumePath, string? listDir, out string source)
    {
        if (!Directory.Exists(volumePath))
            throw new DirectoryNotFoundException(File.Exists(volumePath)
                ? $"{volumePath}: is a file; --volume-path takes a data root holding {SynapseLayout.TestDirName}/ or a folder of NAME.npy.h5 volumes"
                : $"{volumePath}: test volume folder does not exist");
        string nested = Path.Combine(volumePath, SynapseLayout.TestDirName);
        string volumeDir = Directory.Exists(nested) ? nested : volumePath;
        if (listDir is not null)
        {
            if (!Directory.Exists(listDir))
                throw new DirectoryNotFoundException($"{listDir}: list folder does not exist");
            source = Path.Combine(listDir, SynapseLayout.TestListName);
            return FromList(source, volumeDir);
        }

        string root = volumeDir == nested ? volumePath : Path.GetDirectoryName(Path.GetFullPath(volumeDir)) ?? volumeDir;
        string[] candidates = [volumeDir, root, Path.Combine(root, "lists"), Path.Combine(root, "lists", "lists_Synapse")];
        foreach (string folder in candidates.Distinct())
        {
            string list = Path.Combine(folder, SynapseLayout.TestListName);
            if (File.Exists(list))
            {
                source = list;
                return FromList(list, volumeDir);
            }
        }

        var files = Directory.GetFiles(volumeDir, "*.npy.h5").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
            throw new FileNotFoundException($"{volumeDir}: no NAME.npy.h5 test volumes and no {SynapseLayout.TestListName} list");
        source = $"every .npy.h5 in {volumeDir} (no {SynapseLayout.TestListName} found)";
        return [.. files.Select(path =>
        {
            string name = Path.GetFileName(path)[..^".npy.h5".Length];
            return VolumeTestItem.H5(name, path);
        })];
    }

    /// <summary>One SAMed test volume file (NAME.npy.h5).</summary>
    public static PreparedVolume ReadH5(string name, string path)
    {
        var volume = SynapseH5.Read(path);
        var shape = volume.Image.Shape;
        return new PreparedVolume(name, (int)shape[0], (int)shape[1], (int)shape[2], volume.Image.ToFloat(), volume.Label.ToFloat(), path)
        {
            Channels = shape.Length == 4 ? (int)shape[3] : 1,
        };
    }

    /// <summary>
    /// NIfTI pairs preprocessed as SAMed's prepare does (HU clipped to the window and scaled to [0, 1], labels mapped
    /// by <paramref name="labelMap"/>, voxel array transposed to [z, y, x]), with the header's voxel size and geometry.
    /// The image stays in its stored type and is windowed slice by slice (see <see cref="Prepare.StartLoadingStored"/>);
    /// the next pair is decompressed while the model works on the current one.
    /// </summary>
    public static IReadOnlyList<VolumeTestItem> FromNifti(IReadOnlyList<PrepareCase> cases, LabelMap labelMap, float windowMin = -125, float windowMax = 275)
    {
        if (cases.Count == 0)
            throw new ArgumentException("no NIfTI cases to test");
        foreach (var c in cases)
        {
            foreach (string path in new[] { c.ImagePath, c.LabelPath })
                if (!File.Exists(path))
                    throw new FileNotFoundException($"{path}: file of case {c.Name} not found", path);
        }
        var options = new PrepareOptions { OutputDir = ".", LabelMap = labelMap, ClipMin = windowMin, ClipMax = windowMax };
        return [.. cases.Select(c => new VolumeTestItem(c.Name, c.ImagePath, numClasses => Prepare.StartLoadingStored(c, options, numClasses)))];
    }
}

/// <summary>
/// A test volume not yet read: its name, file and how to start reading it for a test of num_classes classes (a task
/// already running, see <see cref="Prepare.StartLoadingStored"/>, or one not yet started, run when the volume is needed).
/// </summary>
public sealed record VolumeTestItem(string Name, string Path, Func<int, Task<StoredVolume>> StartLoading)
{
    /// <summary>A volume read on the tester's thread when it is needed (its reader allocates as it reads).</summary>
    public static VolumeTestItem Deferred(string name, string path, Func<PreparedVolume> load) =>
        new(name, path, numClasses => new Task<StoredVolume>(() => StoredVolume.FromPrepared(load(), numClasses)));

    /// <summary>A SAMed test volume file (NAME.npy.h5), read when needed (PureHDF allocates as it reads).</summary>
    public static VolumeTestItem H5(string name, string path) => Deferred(name, path, () => VolumeTestSource.ReadH5(name, path));

    /// <summary>Reads the volume now, on the calling thread.</summary>
    public StoredVolume Load(int numClasses)
    {
        var loading = StartLoading(numClasses);
        if (loading.Status == TaskStatus.Created)
            loading.RunSynchronously();
        return loading.GetAwaiter().GetResult();
    }
}
