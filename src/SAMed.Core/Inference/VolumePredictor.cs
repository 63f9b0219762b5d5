using System.Diagnostics;
using SAMed.Data;
using SAMed.IO;
using SAMed.TorchInterop;

namespace SAMed.Inference;

/// <summary>
/// NIfTI volume in, NIfTI label map out: intensities windowed to [0, 1] as SAMed's preprocessing does, sliced along
/// the configured axis, segmented with SAMed's per-slice protocol in batches, and written as uint8 labels on the
/// input's exact grid (shape, affine, pixdim, qform/sform and their codes, units) through <see cref="AtomicFile"/>.
/// A volume is held once, in its stored type, with a one-byte label map beside it: each batch of slices is read
/// from the stored voxels, windowed, segmented and put into the label map. Over a folder, the next volume is
/// decompressed and the previous one written while the model works on the current one.
/// </summary>
public sealed class VolumePredictor
{
    private readonly ISliceSegmenter segmenter;

    public VolumePredictor(ISliceSegmenter segmenter, PredictOptions options)
    {
        options.Validate();
        if (segmenter.NumClasses > 255)
            throw new ArgumentException($"{segmenter.NumClasses} classes do not fit uint8 label maps");
        this.segmenter = segmenter;
        Options = options;
    }

    public PredictOptions Options { get; }

    /// <summary>The label map of <paramref name="image"/> (uint8, same header geometry and shape).</summary>
    /// <param name="progress">(slices done, slice count) after each batch.</param>
    public NiftiImage Predict(NiftiImage image, string source, Action<int, int>? progress = null, CancellationToken cancel = default)
    {
        var volume = new WindowedVolume(image, Options, source);
        var slicer = volume.Slicer;
        var labels = new byte[image.VoxelCount];
        progress?.Invoke(0, slicer.SliceCount);
        for (int start = 0; start < slicer.SliceCount; start += Options.BatchSize)
        {
            cancel.ThrowIfCancellationRequested();
            int count = Math.Min(Options.BatchSize, slicer.SliceCount - start);
            var slices = new float[count][,];
            for (int i = 0; i < count; i++)
                slices[i] = volume.Slice(start + i);
            var maps = segmenter.Segment(slices);
            if (maps.Count != count)
                throw new InvalidOperationException($"the segmenter returned {maps.Count} label maps for {count} slices");
            for (int i = 0; i < count; i++)
                slicer.Put(labels, start + i, maps[i]);
            progress?.Invoke(start + count, slicer.SliceCount);
            BatchGarbage.Release();
        }
        return NiftiImage.FromStored(image.Header, image.Shape, NiftiDataType.UInt8, labels);
    }

    /// <summary>Predicts one file and writes the label map to <paramref name="outputPath"/> (temporary file, then rename).</summary>
    public PredictResult PredictFile(string inputPath, string outputPath, Action<int, int>? progress = null, CancellationToken cancel = default)
    {
        CheckOutput(inputPath, outputPath);
        var watch = Stopwatch.StartNew();
        var image = Nifti.Read(inputPath);
        var labels = Predict(image, inputPath, progress, cancel);
        return Save(inputPath, outputPath, image, labels, watch);
    }

    /// <summary>
    /// A file to a file (output ending in .nii or .nii.gz) or into a folder (same file name), or every .nii/.nii.gz
    /// of a folder into a folder. Every input's header is read first (a bad file is named before any work); then
    /// volume i + 1 is read and volume i - 1 written while volume i is segmented. A failure stops the run after the
    /// volumes already finished are written; no partial output is left under a final name.
    /// </summary>
    public IReadOnlyList<PredictResult> PredictPath(
        string input, string output, Action<PredictProgress>? progress = null, CancellationToken cancel = default)
    {
        var jobs = Jobs(input, output);
        var sliceCounts = new int[jobs.Count];
        for (int i = 0; i < jobs.Count; i++)
        {
            CheckOutput(jobs[i].Input, jobs[i].Output);
            var header = Nifti.ReadHeader(jobs[i].Input);
            sliceCounts[i] = WindowedVolume.SpatialShape(header.Shape, jobs[i].Input)[Options.SliceAxis];
        }
        int total = sliceCounts.Sum();
        int DoneBefore(int index) => sliceCounts.Take(index).Sum();
        PredictProgress Stage(int index, PredictStage stage, int done) =>
            new(index, jobs.Count, jobs[index].Input, done, sliceCounts[index], DoneBefore(index) + done, total) { Stage = stage };
        var results = new PredictResult[jobs.Count];
        FilePipeline.Run(
            jobs.Count,
            startReading: i => NiftiReader.ReadInBackground(jobs[i].Input),
            process: (i, image) =>
            {
                var watch = Stopwatch.StartNew();
                var labels = Predict(image, jobs[i].Input, (d, _) => progress?.Invoke(Stage(i, PredictStage.Segmenting, d)), cancel);
                return (image, labels, watch);
            },
            write: (i, done) => results[i] = Save(jobs[i].Input, jobs[i].Output, done.image, done.labels, done.watch),
            waitingForInput: i => progress?.Invoke(Stage(i, PredictStage.Reading, 0)),
            waitingForOutput: i => progress?.Invoke(Stage(i, PredictStage.Writing, sliceCounts[i])));
        return results;
    }

    /// <summary>Writes the label map, counts voxels per class and renders the overlay when asked.</summary>
    private PredictResult Save(string inputPath, string outputPath, NiftiImage image, NiftiImage labels, Stopwatch watch)
    {
        Nifti.Write(outputPath, labels);
        var counts = new long[segmenter.NumClasses + 1];
        foreach (byte label in labels.RawData)
            counts[label]++;
        string? overlay = null;
        if (Options.OverlayDir is not null)
        {
            overlay = Path.Combine(Options.OverlayDir, NiftiStem(inputPath) + "_overlay.png");
            var volume = new WindowedVolume(image, Options, inputPath);
            OverlayMontage.Write(overlay, volume.Slicer, volume.Slice, labels.RawData,
                Options.ClassNames ?? ClassNames.For(segmenter.NumClasses), image.Orientation);
        }
        return new PredictResult(inputPath, outputPath, image.Shape, counts, watch.Elapsed, overlay);
    }

    private static void CheckOutput(string inputPath, string outputPath)
    {
        if (Path.GetFullPath(inputPath) == Path.GetFullPath(outputPath))
            throw new ArgumentException($"{outputPath}: the output would overwrite the input volume");
    }

    /// <summary>The (input, output) file pairs for <see cref="PredictPath"/>.</summary>
    public static IReadOnlyList<(string Input, string Output)> Jobs(string input, string output)
    {
        if (Directory.Exists(input))
        {
            if (IsNiftiName(output))
                throw new ArgumentException($"{output}: the input {input} is a folder, so the output must be a folder too");
            var files = Directory.GetFiles(input).Where(IsNiftiName).Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0)
                throw new FileNotFoundException($"{input}: the folder holds no .nii or .nii.gz files");
            return [.. files.Select(f => (f, Path.Combine(output, Path.GetFileName(f))))];
        }
        if (!File.Exists(input))
            throw new FileNotFoundException($"{input}: input volume or folder not found", input);
        return [(input, IsNiftiName(output) ? output : Path.Combine(output, Path.GetFileName(input)))];
    }

    public static bool IsNiftiName(string path) =>
        path.EndsWith(".nii", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".nii.gz", StringComparison.OrdinalIgnoreCase);

    public static string NiftiStem(string path)
    {
        string name = Path.GetFileName(path);
        foreach (string extension in new[] { ".nii.gz", ".nii" })
            if (name.EndsWith(extension, StringComparison.OrdinalIgnoreCase))
                return name[..^extension.Length];
        return name;
    }
}
