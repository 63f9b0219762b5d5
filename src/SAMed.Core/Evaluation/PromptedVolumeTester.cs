using SAMed.Data;
using SAMed.Inference;

namespace SAMed.Evaluation;

/// <summary>The prompt a promptable model is evaluated with, derived from the ground truth of each slice and class.</summary>
public enum EvaluationPrompt
{
    /// <summary>The class's bounding box on the slice, without jitter (MedSAM's evaluation).</summary>
    Box,

    /// <summary>One click at the class's most central pixel on the slice (multimask, best-scored mask kept).</summary>
    Point,
}

/// <summary>
/// MedSAM's evaluation of a promptable model: on every slice, each class present in the ground truth is segmented
/// from a prompt derived from it (<see cref="EvaluationPrompt"/>), the masks are written into a label map (a later
/// class wins where two overlap), and each class is scored as <see cref="VolumeTester"/> scores it (SAMed's per-case
/// Dice and HD95, averaged over cases, then classes).
/// </summary>
public sealed class PromptedVolumeTester
{
    private readonly PromptableModel model;

    public PromptedVolumeTester(PromptableModel model, VolumeTestOptions options, EvaluationPrompt prompt)
    {
        options.Validate();
        this.model = model;
        Options = options;
        Prompt = prompt;
    }

    public VolumeTestOptions Options { get; }

    public EvaluationPrompt Prompt { get; }

    public EvaluationReport Run(IReadOnlyList<VolumeTestItem> volumes, Action<VolumeTestProgress>? progress = null)
    {
        if (volumes.Count == 0)
            throw new ArgumentException("no volumes to test", nameof(volumes));
        var cases = new List<CaseEvaluation>(volumes.Count);
        for (int i = 0; i < volumes.Count; i++)
        {
            var volume = volumes[i].Load();
            var result = TestVolume(volume);
            cases.Add(result);
            progress?.Invoke(new VolumeTestProgress(i, volumes.Count, volume.Name, volume.Depth, volume.Depth, result));
        }
        return new EvaluationReport(cases, Options.ClassNames ?? ClassNames.For(Options.NumClasses), Options.DistanceUnit);
    }

    public CaseEvaluation TestVolume(PreparedVolume volume)
    {
        var labels = volume.CheckedLabels(Options.NumClasses);
        var prediction = PredictVolume(volume, labels);
        var grid = new VoxelGrid([volume.Depth, volume.Height, volume.Width], Spacing(volume));
        var metrics = SamedMetrics.MetricPerClass(prediction, labels, grid, Options.NumClasses, $"prediction of {volume.Name}", volume.Source);
        if (Options.SaveNiftiDir is not null)
            VolumeTestNifti.Save(Options.SaveNiftiDir, volume, prediction, labels);
        return new CaseEvaluation(volume.Name, metrics);
    }

    /// <summary>The prompted label map [Depth, Height, Width] of a volume whose ground truth is <paramref name="labels"/>.</summary>
    public int[] PredictVolume(PreparedVolume volume, int[] labels)
    {
        int h = volume.Height, w = volume.Width, plane = volume.SliceSize;
        var prediction = new int[labels.Length];
        var target = new bool[plane];
        for (int z = 0; z < volume.Depth; z++)
        {
            var slice = labels.AsSpan(z * plane, plane);
            var present = new SortedSet<int>();
            foreach (int v in slice)
                if (v > 0)
                    present.Add(v);
            if (present.Count == 0)
                continue;
            using var embedding = model.EmbedSlice(volume.ImageSlice2D(z));
            foreach (int c in present)
            {
                for (int i = 0; i < plane; i++)
                    target[i] = slice[i] == c;
                var (mask, _) = model.Segment(embedding, (h, w), PromptFor(target, h, w));
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        if (mask[y, x])
                            prediction[z * plane + y * w + x] = c;
            }
        }
        return prediction;
    }

    private SlicePrompt PromptFor(bool[] target, int h, int w)
    {
        if (Prompt == EvaluationPrompt.Box)
        {
            var (x0, y0, x1, y1) = PromptSampler.Bounds(target, h, w)!.Value;
            return new SlicePrompt([], (x0, y0, x1, y1));
        }
        var (x, y, label) = PromptSampler.CentralPoint(target, h, w);
        return new SlicePrompt([(x, y, label)], null);
    }

    /// <summary>As <see cref="VolumeTester"/>: grid spacing in array order [z, y, x], or null for unit voxels.</summary>
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
