using System.Runtime.InteropServices;
using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// Checks a Synapse-layout data set before any compute: every listed training slice (.npz with 2D image and label) and
/// every listed test volume (.npy.h5 with 3D image and label; colour images have 3 channels last) must exist, be readable, have equal image and label
/// shapes, finite image values and integer labels in 0..numClasses. Collects every problem rather than stopping at one.
/// Warns (without failing) about images outside SAMed's preprocessed range [0, 1] and test volumes without foreground.
/// </summary>
public static class DatasetValidator
{
    public static ValidationReport Validate(SynapseLayout layout, int numClasses, ValidationParts parts = ValidationParts.All)
    {
        if (numClasses < 1)
            throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "num_classes must be at least 1 (background not counted)");
        var findings = new List<ValidationProblem>();
        int slices = 0, volumes = 0;
        if (parts.HasFlag(ValidationParts.Train) && TryReadList(layout.TrainListPath, findings) is { } trainNames)
        {
            foreach (string folder in TrainingFolders(layout))
            {
                var inFolder = layout with { TrainDir = folder };
                slices += trainNames.Count;
                findings.AddRange(CheckAll(trainNames, name => CheckSlice(inFolder.TrainSlicePath(name), numClasses)));
            }
        }
        if (parts.HasFlag(ValidationParts.Test) && TryReadList(layout.TestListPath, findings) is { } testNames)
        {
            volumes = testNames.Count;
            findings.AddRange(CheckAll(testNames, name => CheckVolume(layout.TestVolumePath(name), numClasses)));
        }
        return new ValidationReport(findings.Where(f => !f.IsWarning).ToList(), findings.Where(f => f.IsWarning).ToList(), slices, volumes);
    }

    /// <summary>
    /// The training folders train.txt applies to: a layout's own TrainDir when it was set apart from the root (SAMed's
    /// --root_path); otherwise train_npz/ and every train_npz_N/ that prepare --train-size N wrote beside it (SAMed's
    /// train_npz_224), those that exist, or train_npz/ when none does (so its absence is reported).
    /// </summary>
    public static IReadOnlyList<string> TrainingFolders(SynapseLayout layout)
    {
        string standard = Path.Combine(layout.Root, SynapseLayout.TrainDirName);
        if (Path.GetFullPath(layout.TrainDir) != Path.GetFullPath(standard))
            return [layout.TrainDir];
        var resized = Directory.Exists(layout.Root)
            ? Directory.GetDirectories(layout.Root, SynapseLayout.TrainDirName + "_*")
                .Where(d => int.TryParse(Path.GetFileName(d)[(SynapseLayout.TrainDirName.Length + 1)..], out int n) && n > 0)
                .Order(StringComparer.Ordinal)
            : Enumerable.Empty<string>();
        var existing = new[] { standard }.Where(Directory.Exists).Concat(resized).ToList();
        return existing.Count > 0 ? existing : [standard];
    }

    /// <summary>Every problem of one training slice (.npz with "image" and "label" of the same 2D shape).</summary>
    public static IReadOnlyList<ValidationProblem> CheckSlice(string path, int numClasses) => CheckFile(path, () =>
    {
        var arrays = Npz.Read(path, "image", "label");
        return CheckArrays(path, arrays[0], arrays[1], rank: 2, numClasses);
    });

    /// <summary>Every problem of one test volume (.npy.h5 with "image" and "label" of the same 3D shape).</summary>
    public static IReadOnlyList<ValidationProblem> CheckVolume(string path, int numClasses) => CheckFile(path, () =>
    {
        var volume = SynapseH5.Read(path);
        return CheckArrays(path, volume.Image, volume.Label, rank: 3, numClasses);
    });

    /// <summary>Every problem (and warning) of an image and label pair already in memory.</summary>
    public static IReadOnlyList<ValidationProblem> CheckArrays(string path, NpyArray image, NpyArray label, int rank, int numClasses)
    {
        var problems = new List<ValidationProblem>();
        void Add(string problem) => problems.Add(new ValidationProblem(path, problem));
        void Warn(string warning) => problems.Add(new ValidationProblem(path, warning, IsWarning: true));

        // A colour image carries its 3 channels last, one dimension more than its label.
        bool colour = image.Shape.Length == rank + 1 && image.Shape[rank] == 3;
        if (image.Shape.Length != rank && !colour)
            Add($"image must be {rank}D (or {rank}D with 3 colour channels last), got shape {Format(image.Shape)}");
        if (label.Shape.Length != rank)
            Add($"label must be {rank}D, got shape {Format(label.Shape)}");
        if (!image.Shape.Take(rank).SequenceEqual(label.Shape) || (!colour && image.Shape.Length != label.Shape.Length))
            Add($"image shape {Format(image.Shape)} differs from label shape {Format(label.Shape)}");
        if (image.Count == 0)
            Add($"image is empty (shape {Format(image.Shape)})");

        var pixels = new Values(image);
        int nan = 0, infinite = 0;
        long firstBad = -1;
        double low = double.PositiveInfinity, high = double.NegativeInfinity;
        for (int i = 0; i < pixels.Length; i++)
        {
            double v = pixels[i];
            if (double.IsFinite(v))
            {
                low = Math.Min(low, v);
                high = Math.Max(high, v);
                continue;
            }
            if (double.IsNaN(v))
                nan++;
            else
                infinite++;
            if (firstBad < 0)
                firstBad = i;
        }
        if (nan + infinite > 0)
            Add($"image has {nan} NaN and {infinite} infinite values (first at flat index {firstBad})");
        if (low < 0 || high > 1)
            Warn($"image values span {low}..{high}, outside [0, 1] that SAMed's preprocessing produces (not windowed and scaled?)");

        var labels = new Values(label);
        int notInteger = 0, outOfRange = 0;
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        for (int i = 0; i < labels.Length; i++)
        {
            double v = labels[i];
            if (!double.IsFinite(v) || v != Math.Floor(v))
            {
                notInteger++;
                continue;
            }
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            if (v < 0 || v > numClasses)
                outOfRange++;
        }
        if (notInteger > 0)
            Add($"label has {notInteger} values that are not finite integers");
        if (outOfRange > 0)
            Add($"label has {outOfRange} values outside 0..{numClasses} (found {min}..{max}; num_classes = {numClasses})");
        if (rank == 3 && labels.Length > 0 && max <= 0 && notInteger == 0)
            Warn("label has no foreground voxels (every organ is absent from this volume)");
        return problems;
    }

    private static IReadOnlyList<ValidationProblem> CheckFile(string path, Func<IReadOnlyList<ValidationProblem>> check)
    {
        if (!File.Exists(path))
            return [new ValidationProblem(path, "file not found")];
        try
        {
            return check();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Report and go on: one unreadable file must not hide the problems of the others.
            return [new ValidationProblem(path, WithoutPathPrefix(e.Message, path))];
        }
    }

    private static IEnumerable<ValidationProblem> CheckAll(IReadOnlyList<string> names, Func<string, IReadOnlyList<ValidationProblem>> check) =>
        names.AsParallel().AsOrdered().SelectMany(check).ToList();

    private static IReadOnlyList<string>? TryReadList(string path, List<ValidationProblem> problems)
    {
        try
        {
            return SynapseLayout.ReadList(path);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            problems.Add(new ValidationProblem(path, WithoutPathPrefix(e.Message, path)));
            return null;
        }
    }

    private static string WithoutPathPrefix(string message, string path) =>
        message.StartsWith(path + ": ", StringComparison.Ordinal) ? message[(path.Length + 2)..] : message;

    /// <summary>An array's values as doubles, read in place for float32 (SAMed's type) so big volumes are not copied.</summary>
    private readonly ref struct Values(NpyArray array)
    {
        private readonly ReadOnlySpan<float> floats = array.Type == NpyType.Float32 ? MemoryMarshal.Cast<byte, float>(array.Data) : default;
        private readonly double[]? others = array.Type == NpyType.Float32 ? null : array.ToDouble();

        public int Length => others?.Length ?? floats.Length;

        public double this[int index] => others is null ? floats[index] : others[index];
    }

    private static string Format(long[] shape) => $"[{string.Join(", ", shape)}]";
}
