using System.Globalization;
using System.Numerics;
using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// SAMed's preprocessing (preprocess/preprocess_data.py) from NIfTI pairs to its Synapse layout: clip the image to
/// [ClipMin, ClipMax], scale (x - min) / (max - min) in float32, map labels, transpose the voxel array as stored to
/// [slice, y, x]; training cases become train_npz/CASE_sliceNNN.npz (label, image: float32 [H, W]; with
/// <see cref="PrepareOptions.TrainSize"/> N, zoomed to N x N in train_npz_N/, SAMed's 224 set), test cases
/// test_vol_h5/CASE.npy.h5 (image, label: float32 [D, H, W], always at their own size), listed in train.txt and
/// test_vol.txt.
/// </summary>
public static class Prepare
{
    /// <summary>Splits, preprocesses and writes every case, reporting each finished case to <paramref name="progress"/>.</summary>
    public static PrepareSummary Run(IReadOnlyList<PrepareCase> cases, PrepareOptions options, Action<PrepareProgress>? progress = null)
    {
        if (cases.Count == 0)
            throw new ArgumentException("no cases to prepare");
        if (options.TrainSize is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.TrainSize, "the training slice size must be positive");
        var split = PrepareSplit.Make(cases, options);
        CheckHeaders(split.Train.Concat(split.Test).Distinct());
        var layout = OutputLayout(options);
        var train = split.Train.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var test = split.Test.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        if (train.Count > 0)
            Directory.CreateDirectory(layout.TrainDir);
        if (test.Count > 0)
            Directory.CreateDirectory(layout.TestDir);

        var selected = cases.Where(c => train.Contains(c.Name) || test.Contains(c.Name)).ToList();
        var trainNames = new List<string>();
        var summaries = new List<PreparedCaseSummary>();
        var labelVoxels = new SortedDictionary<int, long>();
        var unlisted = new SortedDictionary<int, long>();
        var warnings = new List<string>();
        for (int i = 0; i < selected.Count; i++)
        {
            var c = selected[i];
            var volume = Load(c, options);
            bool isTrain = train.Contains(c.Name), isTest = test.Contains(c.Name);
            if (isTrain)
                trainNames.AddRange(WriteTrainSlices(layout, volume, options.TrainSize));
            if (isTest)
                WriteTestVolume(layout, volume, options.CompressH5);

            Add(labelVoxels, volume.LabelVoxels);
            Add(unlisted, volume.UnlistedSourceVoxels);
            warnings.AddRange(volume.Warnings);
            var summary = new PreparedCaseSummary(c.Name, volume.Depth, volume.Height, volume.Width, isTrain, isTest, volume.LabelVoxels);
            summaries.Add(summary);
            progress?.Invoke(new PrepareProgress(i + 1, selected.Count, summary));
        }

        if (trainNames.Count > 0)
            SynapseLayout.WriteList(layout.TrainListPath, trainNames);
        if (test.Count > 0)
            SynapseLayout.WriteList(layout.TestListPath, split.Test.Select(c => c.Name));
        return new PrepareSummary(summaries, trainNames.Count, labelVoxels, unlisted, warnings);
    }

    /// <summary>
    /// Where <see cref="Run"/> writes: the output folder's train_npz/ and test_vol_h5/, or train_npz_N/ for training
    /// slices zoomed to N x N (SAMed's train_npz_224), so the native and the zoomed set can sit side by side.
    /// </summary>
    public static SynapseLayout OutputLayout(PrepareOptions options)
    {
        var layout = new SynapseLayout(options.OutputDir, options.ListDir ?? options.OutputDir);
        return options.TrainSize is int size
            ? layout with { TrainDir = Path.Combine(options.OutputDir, $"{SynapseLayout.TrainDirName}_{size.ToString(CultureInfo.InvariantCulture)}") }
            : layout;
    }

    /// <summary>
    /// Before any work: every file exists, has a readable NIfTI-1 header, and each label's grid is its image's grid.
    /// (Voxel values, such as NaN or labels outside the map, are checked as each case is read.)
    /// </summary>
    public static void CheckHeaders(IEnumerable<PrepareCase> cases)
    {
        foreach (var c in cases)
        {
            if (ImageFile.IsImage(c.ImagePath))
            {
                ImagePrepare.CheckHeaders(c);
                continue;
            }
            var image = SpatialShape(Nifti.ReadHeader(c.ImagePath).Shape, c.ImagePath);
            var label = SpatialShape(Nifti.ReadHeader(c.LabelPath).Shape, c.LabelPath);
            CheckSameGrid(c, image, label);
        }
    }

    /// <summary>
    /// Reads one pair and preprocesses it in memory, with the image header's voxel size and geometry; errors about its
    /// labels name the label file. A 2D image file (PNG, JPEG, BMP, TIFF) and its mask go through <see cref="ImagePrepare"/>.
    /// </summary>
    public static PreparedVolume Load(PrepareCase c, PrepareOptions options)
    {
        if (ImageFile.IsImage(c.ImagePath))
            return ImagePrepare.Load(c, options);
        var image = LoadImage(c.ImagePath, options.ClipMin, options.ClipMax);
        var label = Nifti.Read(c.LabelPath);
        CheckSameGrid(c, (image.Width, image.Height, image.Depth), SpatialShape(label.Shape, c.LabelPath));

        var warnings = new List<string>();
        if (!SameGeometry(image.Source.Affine, label.Affine))
            warnings.Add($"{c.Name}: the label's affine differs from the image's ({c.LabelPath} vs {c.ImagePath}); voxels are used as stored");

        var labels = new float[label.VoxelCount];
        var (counts, unlisted) = MapLabels(label, options.LabelMap, c.LabelPath, image.Width, image.Height, labels);
        CheckUnknownLabels(c, options, unlisted, labels.LongLength);
        var header = image.Source.Header;
        return new PreparedVolume(c.Name, image.Depth, image.Height, image.Width, image.Image, labels, c.LabelPath)
        {
            SpacingXyz = [.. header.PixDim.Skip(1).Take(3).Select(v => (double)Math.Abs(v))],
            Geometry = header,
            LabelVoxels = counts,
            UnlistedSourceVoxels = unlisted,
            Warnings = warnings,
        };
    }

    /// <summary>
    /// Starts reading a pair for test as a <see cref="StoredVolume"/>: the image kept in its stored type (windowed to
    /// [ClipMin, ClipMax] as it is read, bit for bit as <see cref="Load"/> windows it), the labels mapped as Load maps them
    /// and checked against <paramref name="numClasses"/>, one byte a voxel. The headers are checked and the large arrays
    /// allocated on the calling thread (see <see cref="NiftiReader.ReadInBackground"/>); the files are decompressed, the
    /// image checked for NaN and the labels mapped on the thread pool. Errors name the files as Load's do; they surface
    /// when the task is awaited. A 2D image case is loaded by Load on the calling thread.
    /// </summary>
    public static Task<StoredVolume> StartLoadingStored(PrepareCase c, PrepareOptions options, int numClasses)
    {
        try
        {
            StoredVolume.RequireByteClasses(numClasses);
            if (ImageFile.IsImage(c.ImagePath))
                return Task.FromResult(StoredVolume.FromPrepared(Load(c, options), numClasses));
            if (!(options.ClipMax > options.ClipMin))
                throw new ArgumentException($"clip range [{options.ClipMin}, {options.ClipMax}] is empty");
            var grid = SpatialShape(Nifti.ReadHeader(c.ImagePath).Shape, c.ImagePath);
            CheckSameGrid(c, grid, SpatialShape(Nifti.ReadHeader(c.LabelPath).Shape, c.LabelPath));
            var image = NiftiReader.ReadInBackground(c.ImagePath);
            var label = NiftiReader.ReadInBackground(c.LabelPath);
            var labels = new byte[(long)grid.X * grid.Y * grid.Z];
            return Task.Run(async () => Stored(c, options, numClasses, await image, await label, labels));
        }
        catch (Exception e)
        {
            return Task.FromException<StoredVolume>(e);
        }
    }

    private static StoredVolume Stored(PrepareCase c, PrepareOptions options, int numClasses, NiftiImage image, NiftiImage label, byte[] labels)
    {
        var volume = new StoredVolume(c.Name, c.LabelPath, image, c.ImagePath, options.ClipMin, options.ClipMax, labels);
        if (volume.FindNonFiniteImage() is { } error)
            throw error;
        var (_, unlisted) = MapLabels(label, options.LabelMap, c.LabelPath, volume.Width, volume.Height, labels, numClasses);
        CheckUnknownLabels(c, options, unlisted, labels.LongLength);
        return volume;
    }

    /// <summary>
    /// Unknown label ids beyond <see cref="PrepareOptions.UnknownLabelTolerance"/> stop the run with a message naming
    /// the ids and the map they likely belong to.
    /// </summary>
    private static void CheckUnknownLabels(PrepareCase c, PrepareOptions options, IReadOnlyDictionary<int, long> unlisted, long voxels)
    {
        if (options.UnknownLabelTolerance is not double tolerance)
            return;
        var map = options.LabelMap;
        var unknown = unlisted.Where(p => !map.Knows(p.Key)).ToList();
        long count = unknown.Sum(p => p.Value);
        if (count == 0 || count <= tolerance * voxels)
            return;
        string ids = string.Join(", ", unknown.Take(12).Select(p => p.Key.ToString(CultureInfo.InvariantCulture))) + (unknown.Count > 12 ? ", ..." : "");
        string? likely = LabelMap.Likely(unknown.Select(p => p.Key).Concat(unlisted.Keys));
        string hint = likely is not null && likely != map.Name
            ? $"these look like {(likely == "totalseg" ? "TotalSegmentator" : "raw Synapse/BTCV")} labels: use --label-map {likely}"
            : "give a JSON map {\"source id\": class id}";
        throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
            $"{c.LabelPath}: label ids {ids} ({count} voxels, {100.0 * count / voxels:F2}%) are not in label map '{map.Name}'; {hint} (or --unlisted-labels background to set them to background)"));
    }

    /// <summary>
    /// Reads an image and preprocesses it as SAMed does: scaled values to float32, clip to [clipMin, clipMax],
    /// (x - clipMin) / (clipMax - clipMin); the voxel array as stored, read as [z, y, x]. NaN or infinity is an error.
    /// </summary>
    public static PreparedImage LoadImage(string imagePath, float clipMin = -125, float clipMax = 275)
    {
        if (!(clipMax > clipMin))
            throw new ArgumentException($"clip range [{clipMin}, {clipMax}] is empty");
        var image = Nifti.Read(imagePath);
        var (width, height, depth) = SpatialShape(image.Shape, imagePath);
        // x fastest on disk is C order [z, y, x]: the transpose (2, 1, 0) needs no copying.
        var values = Normalize(image.ToFloat(), clipMin, clipMax, imagePath, width, height);
        return new PreparedImage(image, depth, height, width, values);
    }

    private static float[] Normalize(float[] values, float min, float max, string path, int width, int height)
    {
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (!float.IsFinite(v))
                throw new InvalidDataException($"{path}: image value {v} at voxel {Voxel(i, width, height)} (images must be finite)");
            values[i] = HuWindow.Apply(v, min, max);
        }
        return values;
    }

    /// <summary>
    /// Maps every label voxel into <paramref name="labels"/> (x fastest, as stored) and counts voxels per class and per
    /// unlisted source id. A mapped class above <paramref name="maxClass"/> is an error naming the file, the value and
    /// its first voxel (see <see cref="StoredVolume.LabelOutOfRange"/>).
    /// </summary>
    private static (IReadOnlyDictionary<int, long> Counts, IReadOnlyDictionary<int, long> Unlisted) MapLabels<T>(
        NiftiImage label, LabelMap map, string path, int width, int height, T[] labels, int maxClass = int.MaxValue)
        where T : INumberBase<T>
    {
        var counts = new SortedDictionary<int, long>();
        var unlisted = new SortedDictionary<int, long>();
        var cache = new Dictionary<int, (int Target, bool Listed)>();
        var chunk = new double[1 << 16];
        // Labels come in long runs: count a run of one source id at a time.
        int runSource = -1;
        (int Target, bool Listed) runMapped = default;
        long runLength = 0;
        void FlushRun()
        {
            if (runLength == 0)
                return;
            counts[runMapped.Target] = counts.GetValueOrDefault(runMapped.Target) + runLength;
            if (!runMapped.Listed && map.Unlisted == UnlistedLabels.Background)
                unlisted[runSource] = unlisted.GetValueOrDefault(runSource) + runLength;
            runLength = 0;
        }

        for (long start = 0; start < labels.LongLength; start += chunk.Length)
        {
            var values = chunk.AsSpan(0, (int)Math.Min(chunk.Length, labels.LongLength - start));
            label.CopyValues(start, values);
            for (int k = 0; k < values.Length; k++)
            {
                double value = values[k];
                long i = start + k;
                if (value != runSource)
                {
                    if (!double.IsFinite(value) || value != Math.Floor(value) || value < 0 || value > int.MaxValue)
                        throw new InvalidDataException($"{path}: label value {value} at voxel {Voxel(i, width, height)} is not a non-negative integer");
                    FlushRun();
                    runSource = (int)value;
                    if (!cache.TryGetValue(runSource, out runMapped))
                    {
                        if (!map.TryMap(runSource, out int target, out bool listed))
                            throw new InvalidDataException($"{path}: label {runSource} (first at voxel {Voxel(i, width, height)}) is not in label map '{map.Name}'");
                        if (target > maxClass)
                            throw StoredVolume.LabelOutOfRange(path, target, i, height, width, maxClass);
                        cache[runSource] = runMapped = (target, listed);
                    }
                }
                labels[i] = T.CreateTruncating(runMapped.Target);
                runLength++;
            }
        }
        FlushRun();
        return (counts, unlisted);
    }

    private static List<string> WriteTrainSlices(SynapseLayout layout, PreparedVolume volume, int? size)
    {
        var names = new List<string>(volume.Depth);
        for (int slice = 0; slice < volume.Depth; slice++)
        {
            string name = volume.FromImageFile ? volume.Name : $"{volume.Name}_slice{slice.ToString("D3", CultureInfo.InvariantCulture)}";
            var (image, label) = TrainSlice(volume.ImagePlanes(slice), volume.LabelSlice2D(slice), size);
            Npz.Write(layout.TrainSlicePath(name),
            [
                new("label", NpyArray.FromFloat32(label)),
                new("image", ImageArray(image)),
            ]);
            names.Add(name);
        }
        return names;
    }

    /// <summary>
    /// A training slice as written: unchanged, or zoomed to [size, size] as SAMed's RandomGenerator zooms
    /// (zoom(image, (size / H, size / W), order=3) on every channel, zoom(label, ..., order=0)).
    /// </summary>
    public static (float[][,] Image, float[,] Label) TrainSlice(float[][,] image, float[,] label, int? size)
    {
        if (size is not int s || (label.GetLength(0) == s && label.GetLength(1) == s))
            return (image, label);
        return ([.. image.Select(plane => Ndimage.ZoomTo(plane, s, s, order: 3))], Ndimage.ZoomTo(label, s, s, order: 0));
    }

    /// <summary>A slice's image as stored: [H, W] float32 for grey, [H, W, C] (channels last) for colour.</summary>
    public static NpyArray ImageArray(float[][,] planes)
    {
        if (planes.Length == 1)
            return NpyArray.FromFloat32(planes[0]);
        int height = planes[0].GetLength(0), width = planes[0].GetLength(1), channels = planes.Length;
        var values = new float[height * width * channels];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < channels; c++)
                    values[(y * width + x) * channels + c] = planes[c][y, x];
        return NpyArray.FromFloat32(values, height, width, channels);
    }

    private static void WriteTestVolume(SynapseLayout layout, PreparedVolume volume, bool compress)
    {
        long[] shape = volume.Channels == 1
            ? [volume.Depth, volume.Height, volume.Width]
            : [volume.Depth, volume.Height, volume.Width, volume.Channels];
        var image = NpyArray.FromFloat32(volume.Image, shape);
        var label = NpyArray.FromFloat32(volume.Label, volume.Depth, volume.Height, volume.Width);
        SynapseH5.Write(layout.TestVolumePath(volume.Name), new VolumeArrays(image, label), compress);
    }

    /// <summary>(X, Y, Z) of a 2D or 3D image, or of a higher-rank one whose extra dimensions are all 1.</summary>
    private static (int X, int Y, int Z) SpatialShape(int[] shape, string path)
    {
        if (shape.Skip(3).Any(d => d != 1))
            throw new InvalidDataException($"{path}: image has shape [{string.Join(", ", shape)}]; only 3D volumes (or 4D with one time point) can be prepared");
        return (shape[0], shape.Length > 1 ? shape[1] : 1, shape.Length > 2 ? shape[2] : 1);
    }

    private static void CheckSameGrid(PrepareCase c, (int X, int Y, int Z) image, (int X, int Y, int Z) label)
    {
        if (label != image)
            throw new InvalidDataException($"{c.LabelPath}: label grid {label.X} x {label.Y} x {label.Z} differs from the image grid "
                + $"{image.X} x {image.Y} x {image.Z} of {c.ImagePath}");
    }

    private static bool SameGeometry(double[,] a, double[,] b)
    {
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                if (Math.Abs(a[i, j] - b[i, j]) > 1e-3 * Math.Max(1, Math.Abs(a[i, j])))
                    return false;
        return true;
    }

    internal static string Voxel(long index, int width, int height) =>
        $"(x={index % width}, y={index / width % height}, z={index / ((long)width * height)})";

    private static void Add(SortedDictionary<int, long> total, IReadOnlyDictionary<int, long> part)
    {
        foreach (var (key, count) in part)
            total[key] = total.GetValueOrDefault(key) + count;
    }
}
