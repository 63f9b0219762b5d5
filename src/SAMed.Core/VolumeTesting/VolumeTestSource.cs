using SAMed.Data;
using SAMed.IO;

namespace SAMed.VolumeTesting;

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

    /// <summary>
    /// Starts reading a SAMed test volume file (NAME.npy.h5) for a test of <paramref name="numClasses"/> classes: the
    /// float32 image used as is, the ground truth checked into one byte a voxel (errors name the file, the value and the
    /// voxel). The file is opened, its datasets checked and the arrays allocated on the calling thread, then contiguous
    /// datasets (h5py's default) are read on the thread pool, which allocates nothing large (see
    /// <see cref="SynapseH5Reader"/>). Chunked datasets are read when the returned task, not yet started, is run (see
    /// <see cref="FilePipeline"/>): PureHDF allocates as much as it reads from them, which on another thread could end
    /// the forward's no-GC region. Errors, including opening errors, surface when the task is awaited.
    /// </summary>
    public static Task<StoredVolume> StartLoadingH5(string name, string path, int numClasses)
    {
        SynapseH5Reader? reader = null;
        try
        {
            StoredVolume.RequireByteClasses(numClasses);
            reader = SynapseH5Reader.Open(path);
            if (reader.AllocatesAsItReads)
            {
                reader.Dispose();
                return new Task<StoredVolume>(() =>
                {
                    using var again = SynapseH5Reader.Open(path);
                    return new H5VolumeReading(name, again, numClasses).Read();
                });
            }
            var reading = new H5VolumeReading(name, reader, numClasses);
            var opened = reader;
            return Task.Run(() =>
            {
                using (opened)
                    return reading.Read();
            });
        }
        catch (Exception e)
        {
            reader?.Dispose();
            return Task.FromException<StoredVolume>(e);
        }
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

    /// <summary>
    /// An h5 test volume's arrays, allocated when it is created (on the thread that starts the reading), and their
    /// filling: the image read whole, the labels slab by slab through a buffer of <see cref="SynapseH5Reader.SlabSlices"/>
    /// slices and checked into bytes.
    /// </summary>
    private sealed class H5VolumeReading
    {
        private readonly string name;
        private readonly SynapseH5Reader reader;
        private readonly int numClasses;
        private readonly long[] shape;
        private readonly float[] image;
        private readonly byte[] labels;
        private readonly float[] labelSlab;

        public H5VolumeReading(string name, SynapseH5Reader reader, int numClasses)
        {
            this.name = name;
            this.reader = reader;
            this.numClasses = numClasses;
            shape = reader.Shape(SynapseH5.ImageKey);
            image = new float[reader.Length(SynapseH5.ImageKey)];
            labels = new byte[reader.Length(SynapseH5.LabelKey)];
            labelSlab = new float[Math.Min(labels.Length, (long)reader.SlabSlices * shape[1] * shape[2])];
        }

        public StoredVolume Read()
        {
            int depth = (int)shape[0], height = (int)shape[1], width = (int)shape[2];
            reader.Read(SynapseH5.ImageKey, 0, image);
            int sliceSize = height * width;
            for (int first = 0; first < depth; first += reader.SlabSlices)
            {
                int count = Math.Min(reader.SlabSlices, depth - first) * sliceSize;
                var values = labelSlab.AsSpan(0, count);
                reader.Read(SynapseH5.LabelKey, first, values);
                StoredVolume.CheckLabels(values, labels.AsSpan(first * sliceSize, count), (long)first * sliceSize, numClasses, reader.Path, height, width);
            }
            return StoredVolume.FromFloat32(name, reader.Path, depth, height, width, shape.Length == 4 ? (int)shape[3] : 1, image, labels);
        }
    }
}

/// <summary>
/// A test volume not yet read: its name, file and how to start reading it for a test of num_classes classes (a task
/// already running on the thread pool, see <see cref="Prepare.StartLoadingStored"/> and
/// <see cref="VolumeTestSource.StartLoadingH5"/>, or one not yet started, run when the volume is needed).
/// </summary>
public sealed record VolumeTestItem(string Name, string Path, Func<int, Task<StoredVolume>> StartLoading)
{
    /// <summary>A SAMed test volume file (NAME.npy.h5), read ahead on the thread pool if contiguous (see <see cref="VolumeTestSource.StartLoadingH5"/>).</summary>
    public static VolumeTestItem H5(string name, string path) => new(name, path, numClasses => VolumeTestSource.StartLoadingH5(name, path, numClasses));

    /// <summary>Reads the volume now, on the calling thread.</summary>
    public StoredVolume Load(int numClasses)
    {
        var loading = StartLoading(numClasses);
        if (loading.Status == TaskStatus.Created)
            loading.RunSynchronously();
        return loading.GetAwaiter().GetResult();
    }
}
