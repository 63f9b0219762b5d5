using SAMed.Data;
using SAMed.Inference;

namespace SAMed.Evaluation;

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
        if (segmenter.NumClasses != options.NumClasses)
            throw new ArgumentException($"the segmenter predicts {segmenter.NumClasses} classes but the test has num_classes {options.NumClasses}");
        this.segmenter = segmenter;
        Options = options;
    }

    public VolumeTestOptions Options { get; }

    /// <summary>Tests every volume in order and returns the report (see <see cref="EvaluationReport"/>).</summary>
    public EvaluationReport Run(IReadOnlyList<VolumeTestItem> volumes, Action<VolumeTestProgress>? progress = null)
    {
        if (volumes.Count == 0)
            throw new ArgumentException("no volumes to test", nameof(volumes));
        var cases = new List<CaseEvaluation>(volumes.Count);
        for (int i = 0; i < volumes.Count; i++)
        {
            progress?.Invoke(new VolumeTestProgress(i, volumes.Count, volumes[i].Name, 0, 0, null) { Stage = VolumeTestStage.Reading });
            var volume = volumes[i].Load();
            int index = i;
            cases.Add(TestVolume(volume, p => progress?.Invoke(p with { CaseIndex = index, CaseCount = volumes.Count })));
        }
        return new EvaluationReport(cases, Options.ClassNames ?? ClassNames.For(Options.NumClasses), Options.DistanceUnit);
    }

    /// <summary>Segments one volume, scores every class, and writes the NIfTI files when asked.</summary>
    public CaseEvaluation TestVolume(PreparedVolume volume, Action<VolumeTestProgress>? progress = null)
    {
        // Check the ground truth before spending time on the model.
        var labels = volume.CheckedLabels(Options.NumClasses);
        var grid = new VoxelGrid([volume.Depth, volume.Height, volume.Width], Spacing(volume));
        void Report(int done, VolumeTestStage stage) => progress?.Invoke(new VolumeTestProgress(0, 1, volume.Name, done, volume.Depth, null) { Stage = stage });
        var prediction = PredictVolume(volume, (done, _) => Report(done, VolumeTestStage.Segmenting));
        Report(volume.Depth, VolumeTestStage.Scoring);
        var metrics = SamedMetrics.MetricPerClass(prediction, labels, grid, Options.NumClasses, $"prediction of {volume.Name}", volume.Source, Options.Absent);
        var result = new CaseEvaluation(volume.Name, metrics);
        if (Options.SaveNiftiDir is not null)
        {
            Report(volume.Depth, VolumeTestStage.WritingNifti);
            VolumeTestNifti.Save(Options.SaveNiftiDir, volume, prediction, labels);
        }
        progress?.Invoke(new VolumeTestProgress(0, 1, volume.Name, volume.Depth, volume.Depth, result));
        return result;
    }

    /// <summary>The label map of a whole volume, [Depth, Height, Width] C order, predicted in batches of slices.</summary>
    public int[] PredictVolume(PreparedVolume volume, Action<int, int>? progress = null)
    {
        var prediction = new int[(long)volume.Depth * volume.SliceSize];
        progress?.Invoke(0, volume.Depth);
        for (int start = 0; start < volume.Depth; start += Options.BatchSize)
        {
            int count = Math.Min(Options.BatchSize, volume.Depth - start);
            var slices = Enumerable.Range(start, count).Select(volume.ImagePlanes).ToArray();
            var labels = segmenter.Segment(slices);
            if (labels.Count != count)
                throw new InvalidOperationException($"the segmenter returned {labels.Count} label maps for {count} slices");
            for (int i = 0; i < count; i++)
            {
                var map = labels[i];
                if (map.GetLength(0) != volume.Height || map.GetLength(1) != volume.Width)
                    throw new InvalidOperationException(
                        $"the segmenter returned a {map.GetLength(0)}x{map.GetLength(1)} label map for a {volume.Height}x{volume.Width} slice");
                Buffer.BlockCopy(map, 0, prediction, (start + i) * volume.SliceSize * sizeof(int), volume.SliceSize * sizeof(int));
            }
            progress?.Invoke(start + count, volume.Depth);
            // Each 512 x 512 slice leaves 1-4 MB of garbage on the large-object heap (slices, zooms, label maps); left to
            // itself the collector lets it grow in proportion to the volume's own large arrays (about 3 bytes per voxel
            // more at 300-600 slices), so it is collected batch by batch (a few ms with few managed objects alive).
            GC.Collect();
        }
        return prediction;
    }

    /// <summary>Grid spacing in array order [z, y, x], or null for unit voxels.</summary>
    private double[]? Spacing(PreparedVolume volume)
    {
        IReadOnlyList<double>? xyz = Options.Spacing switch
        {
            VolumeTestSpacing.Explicit => Options.SpacingXyz,
            VolumeTestSpacing.Header => volume.SpacingXyz
                ?? throw new InvalidDataException($"{volume.Source}: has no voxel size (SAMed's h5 volumes carry none); give the spacing explicitly as x,y,z"),
            _ => null,
        };
        return xyz is null ? null : [xyz[2], xyz[1], xyz[0]];
    }
}
