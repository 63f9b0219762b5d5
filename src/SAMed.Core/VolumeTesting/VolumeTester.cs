using SAMed.Data;
using SAMed.Evaluation;
using SAMed.Inference;
using SAMed.IO;
using SAMed.TorchInterop;

namespace SAMed.VolumeTesting;

/// <summary>
/// SAMed's test.py: every volume is segmented slice by slice (by an <see cref="ISliceSegmenter"/>, in batches), each
/// class is scored with calculate_metric_percase (Dice, HD95, SAMed's empty-mask rule), and the report averages over
/// cases per class, then over classes.
/// </summary>
public sealed class VolumeTester
{
    private readonly ISliceSegmenter segmenter;

    public VolumeTester(ISliceSegmenter segmenter, VolumeTestOptions options)
    {
        options.Validate();
        StoredVolume.RequireByteClasses(options.NumClasses);
        if (segmenter.NumClasses != options.NumClasses)
            throw new ArgumentException($"the segmenter predicts {segmenter.NumClasses} classes but the test has num_classes {options.NumClasses}");
        this.segmenter = segmenter;
        Options = options;
    }

    public VolumeTestOptions Options { get; }

    /// <summary>
    /// Tests every volume in order and returns the report (see <see cref="EvaluationReport"/>). The next volume is read
    /// and the previous one's NIfTI files written while the model segments the current one (see <see cref="FilePipeline"/>).
    /// </summary>
    public EvaluationReport Run(IReadOnlyList<VolumeTestItem> volumes, Action<VolumeTestProgress>? progress = null)
    {
        if (volumes.Count == 0)
            throw new ArgumentException("no volumes to test", nameof(volumes));
        var cases = new CaseEvaluation[volumes.Count];
        void Report(int index, VolumeTestStage stage) =>
            progress?.Invoke(new VolumeTestProgress(index, volumes.Count, volumes[index].Name, 0, 0, null) { Stage = stage });
        Action<VolumeTestProgress> OfCase(int index) => p => progress?.Invoke(p with { CaseIndex = index, CaseCount = volumes.Count });
        FilePipeline.Run(
            volumes.Count,
            startReading: i => volumes[i].StartLoading(Options.NumClasses),
            process: (i, volume) =>
            {
                var prediction = Segment(volume, OfCase(i));
                cases[i] = Score(volume, prediction, OfCase(i));
                return (volume, prediction);
            },
            write: (_, tested) => SaveNifti(tested.volume, tested.prediction),
            waitingForInput: i => Report(i, VolumeTestStage.Reading),
            waitingForOutput: i =>
            {
                if (Options.SaveNiftiDir is not null)
                    Report(i, VolumeTestStage.WritingNifti);
            });
        return new EvaluationReport(cases, Options.ClassNames ?? ClassNames.For(Options.NumClasses), Options.DistanceUnit);
    }

    /// <summary>Segments one volume, scores every class, and writes the NIfTI files when asked.</summary>
    public CaseEvaluation TestVolume(StoredVolume volume, Action<VolumeTestProgress>? progress = null)
    {
        var prediction = Segment(volume, progress);
        var result = Score(volume, prediction, progress);
        SaveNifti(volume, prediction);
        return result;
    }

    /// <summary>The label map of a whole volume, [Depth, Height, Width] C order, one byte a voxel, predicted in batches of slices.</summary>
    public byte[] PredictVolume(StoredVolume volume, Action<int, int>? progress = null)
    {
        // The reader's garbage (the label file's values in their stored type) goes first, so the map can take its place.
        BatchGarbage.Release();
        var prediction = new byte[(long)volume.Depth * volume.SliceSize];
        progress?.Invoke(0, volume.Depth);
        for (int start = 0; start < volume.Depth; start += Options.BatchSize)
        {
            int count = Math.Min(Options.BatchSize, volume.Depth - start);
            var slices = Enumerable.Range(start, count).Select(volume.ImagePlanes).ToArray();
            var labels = segmenter.Segment(slices);
            if (labels.Count != count)
                throw new InvalidOperationException($"the segmenter returned {labels.Count} label maps for {count} slices");
            for (int i = 0; i < count; i++)
                Put(labels[i], prediction, start + i, volume);
            progress?.Invoke(start + count, volume.Depth);
            BatchGarbage.Release();
        }
        return prediction;
    }

    private CaseEvaluation Score(StoredVolume volume, byte[] prediction, Action<VolumeTestProgress>? progress)
    {
        progress?.Invoke(new VolumeTestProgress(0, 1, volume.Name, volume.Depth, volume.Depth, null) { Stage = VolumeTestStage.Scoring });
        var grid = new VoxelGrid([volume.Depth, volume.Height, volume.Width], Options.GridSpacing(volume));
        var metrics = SamedMetrics.MetricPerClass<byte>(
            prediction, volume.Labels, grid, Options.NumClasses, $"prediction of {volume.Name}", volume.Source, Options.Absent);
        var result = new CaseEvaluation(volume.Name, metrics);
        progress?.Invoke(new VolumeTestProgress(0, 1, volume.Name, volume.Depth, volume.Depth, result));
        return result;
    }

    private byte[] Segment(StoredVolume volume, Action<VolumeTestProgress>? progress) =>
        PredictVolume(volume, (done, _) => progress?.Invoke(new VolumeTestProgress(0, 1, volume.Name, done, volume.Depth, null)));

    private void SaveNifti(StoredVolume volume, byte[] prediction)
    {
        if (Options.SaveNiftiDir is not null)
            VolumeTestNifti.Save(Options.SaveNiftiDir, volume, prediction);
    }

    /// <summary>Checks one slice's label map against the volume and puts it into the volume's label map (row after row).</summary>
    private void Put(int[,] map, byte[] prediction, int slice, StoredVolume volume)
    {
        if (map.GetLength(0) != volume.Height || map.GetLength(1) != volume.Width)
            throw new InvalidOperationException(
                $"the segmenter returned a {map.GetLength(0)}x{map.GetLength(1)} label map for a {volume.Height}x{volume.Width} slice");
        int index = slice * volume.SliceSize;
        foreach (int label in map)
        {
            if ((uint)label > (uint)Options.NumClasses)
                throw ClassStatistics.OutOfRange($"prediction of {volume.Name}", label, index, Options.NumClasses);
            prediction[index++] = (byte)label;
        }
    }
}
