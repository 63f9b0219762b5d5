using System.Diagnostics;
using SAMed.Data;
using SAMed.IO;

namespace SAMed.Inference;

/// <summary>
/// NIfTI volume in, NIfTI label map out: intensities windowed to [0, 1] as SAMed's preprocessing does, sliced along
/// the configured axis, segmented with SAMed's per-slice protocol in batches, and written as uint8 labels on the
/// input's exact grid (shape, affine, pixdim, qform/sform and their codes, units), through a temporary file.
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
    public NiftiImage Predict(NiftiImage image, string source, Action<int, int>? progress = null)
    {
        var slicer = new VolumeSlicer(SpatialShape(image, source), Options.SliceAxis);
        var values = Window(image.ToFloat(), source);
        var labels = new byte[image.VoxelCount];
        for (int start = 0; start < slicer.SliceCount; start += Options.BatchSize)
        {
            int count = Math.Min(Options.BatchSize, slicer.SliceCount - start);
            var slices = new float[count][,];
            for (int i = 0; i < count; i++)
                slices[i] = slicer.Slice(values, start + i);
            var maps = segmenter.Segment(slices);
            if (maps.Count != count)
                throw new InvalidOperationException($"the segmenter returned {maps.Count} label maps for {count} slices");
            for (int i = 0; i < count; i++)
                slicer.Put(labels, start + i, maps[i]);
            progress?.Invoke(start + count, slicer.SliceCount);
        }
        var result = new double[labels.Length];
        for (int i = 0; i < labels.Length; i++)
            result[i] = labels[i];
        return NiftiImage.Create(image.Header, image.Shape, NiftiDataType.UInt8, result);
    }

    /// <summary>Predicts one file and writes the label map to <paramref name="outputPath"/> (temporary file, then rename).</summary>
    public PredictResult PredictFile(string inputPath, string outputPath, Action<int, int>? progress = null)
    {
        if (Path.GetFullPath(inputPath) == Path.GetFullPath(outputPath))
            throw new ArgumentException($"{outputPath}: the output would overwrite the input volume");
        var watch = Stopwatch.StartNew();
        var image = Nifti.Read(inputPath);
        var labels = Predict(image, inputPath, progress);
        string? directory = Path.GetDirectoryName(Path.GetFullPath(outputPath));
        if (directory is not null)
            Directory.CreateDirectory(directory);
        Nifti.Write(outputPath, labels);

        var counts = new long[segmenter.NumClasses + 1];
        foreach (byte label in labels.RawData)
            counts[label]++;
        string? overlay = null;
        if (Options.OverlayDir is not null)
        {
            overlay = Path.Combine(Options.OverlayDir, NiftiStem(inputPath) + "_overlay.png");
            var slicer = new VolumeSlicer(SpatialShape(image, inputPath), Options.SliceAxis);
            OverlayMontage.Write(overlay, slicer, Window(image.ToFloat(), inputPath), labels.RawData,
                Options.ClassNames ?? Evaluation.ClassNames.For(segmenter.NumClasses), image.Orientation);
        }
        return new PredictResult(inputPath, outputPath, image.Shape, counts, watch.Elapsed, overlay);
    }

    /// <summary>
    /// A file to a file (output ending in .nii or .nii.gz) or into a folder (same file name), or every .nii/.nii.gz
    /// of a folder into a folder.
    /// </summary>
    public IReadOnlyList<PredictResult> PredictPath(string input, string output, Action<PredictProgress>? progress = null)
    {
        var jobs = Jobs(input, output);
        var results = new List<PredictResult>(jobs.Count);
        for (int i = 0; i < jobs.Count; i++)
        {
            var (from, to) = jobs[i];
            int index = i;
            results.Add(PredictFile(from, to, (done, total) => progress?.Invoke(new PredictProgress(index, jobs.Count, from, done, total))));
        }
        return results;
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

    private float[] Window(float[] values, string source)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new InvalidDataException($"{source}: voxel value {values[i]} at flat index {i} (images must be finite)");
        if (!Options.ApplyWindow)
            return values;
        float min = (float)Options.WindowMin, max = (float)Options.WindowMax;
        for (int i = 0; i < values.Length; i++)
            values[i] = HuWindow.Apply(values[i], min, max);
        return values;
    }

    /// <summary>[X, Y, Z] of a 3D volume (or a higher-rank one whose extra sizes are 1); anything else is an error naming the file.</summary>
    private static int[] SpatialShape(NiftiImage image, string source)
    {
        var shape = image.Shape;
        if (shape.Length < 3 || shape.Skip(3).Any(d => d != 1))
            throw new InvalidDataException($"{source}: image has shape [{string.Join(", ", shape)}] (rank {shape.Length}); a 3D volume is needed");
        return shape[..3];
    }
}
