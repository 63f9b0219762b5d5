using SAMed.Data;
using SAMed.Evaluation;
using SAMed.Inference;
using SAMed.IO;
using SAMed.TorchInterop;

namespace SAMed.VolumeTesting;

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
        StoredVolume.RequireByteClasses(options.NumClasses);
        this.model = model;
        Options = options;
        Prompt = prompt;
    }

    public VolumeTestOptions Options { get; }

    public EvaluationPrompt Prompt { get; }

    /// <summary>Tests every volume in order; the next is read and the previous one's NIfTI files written while the model works (see <see cref="FilePipeline"/>).</summary>
    public EvaluationReport Run(IReadOnlyList<VolumeTestItem> volumes, Action<VolumeTestProgress>? progress = null)
    {
        if (volumes.Count == 0)
            throw new ArgumentException("no volumes to test", nameof(volumes));
        var cases = new CaseEvaluation[volumes.Count];
        FilePipeline.Run(
            volumes.Count,
            startReading: i => volumes[i].StartLoading(Options.NumClasses),
            process: (i, volume) =>
            {
                var prediction = PredictVolume(volume);
                cases[i] = Score(volume, prediction);
                progress?.Invoke(new VolumeTestProgress(i, volumes.Count, volume.Name, volume.Depth, volume.Depth, cases[i]));
                return (volume, prediction);
            },
            write: (_, tested) => SaveNifti(tested.volume, tested.prediction));
        return new EvaluationReport(cases, Options.ClassNames ?? ClassNames.For(Options.NumClasses), Options.DistanceUnit);
    }

    public CaseEvaluation TestVolume(StoredVolume volume)
    {
        var prediction = PredictVolume(volume);
        var result = Score(volume, prediction);
        SaveNifti(volume, prediction);
        return result;
    }

    private CaseEvaluation Score(StoredVolume volume, byte[] prediction)
    {
        var grid = new VoxelGrid([volume.Depth, volume.Height, volume.Width], Options.GridSpacing(volume));
        var metrics = SamedMetrics.MetricPerClass<byte>(prediction, volume.Labels, grid, Options.NumClasses, $"prediction of {volume.Name}", volume.Source);
        return new CaseEvaluation(volume.Name, metrics);
    }

    private void SaveNifti(StoredVolume volume, byte[] prediction)
    {
        if (Options.SaveNiftiDir is not null)
            VolumeTestNifti.Save(Options.SaveNiftiDir, volume, prediction);
    }

    /// <summary>Embedded slices between two collections of the managed garbage (see <see cref="PredictVolume"/>).</summary>
    public const int SlicesPerCollection = 8;

    /// <summary>
    /// The prompted label map [Depth, Height, Width] of a volume, prompts taken from its ground truth. Every
    /// <see cref="SlicesPerCollection"/> embedded slices, their garbage (at 512 x 512: the slice and its flat copy, 2 MB,
    /// and 0.5 MB a class's mask) is collected and glibc's heap trimmed (<see cref="BatchGarbage"/>), between the
    /// model's calls and so outside their no-GC regions.
    /// </summary>
    public byte[] PredictVolume(StoredVolume volume)
    {
        int plane = volume.SliceSize;
        var labels = volume.Labels;
        // The reader's garbage (the label file's values in their stored type) goes first, so the map can take its place.
        BatchGarbage.Release();
        var prediction = new byte[labels.Length];
        var target = new bool[plane];
        int embedded = 0;
        for (int z = 0; z < volume.Depth; z++)
        {
            var present = new SortedSet<byte>();
            foreach (byte v in labels.AsSpan(z * plane, plane))
                if (v > 0)
                    present.Add(v);
            if (present.Count == 0)
                continue;
            SegmentSlice(volume, z, present, target, prediction);
            if (++embedded % SlicesPerCollection == 0)
                BatchGarbage.Release();
        }
        return prediction;
    }

    /// <summary>Embeds slice <paramref name="z"/> and paints the mask of each class present, prompted from its ground truth.</summary>
    private void SegmentSlice(StoredVolume volume, int z, SortedSet<byte> present, bool[] target, byte[] prediction)
    {
        int h = volume.Height, w = volume.Width, plane = volume.SliceSize;
        var slice = volume.Labels.AsSpan(z * plane, plane);
        using var embedding = model.EmbedSlice(volume.ImagePlanes(z)[0]);
        foreach (byte c in present)
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
}
