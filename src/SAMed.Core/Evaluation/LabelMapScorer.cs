using SAMed.Data;

namespace SAMed.Evaluation;

/// <summary>Settings of a <see cref="LabelMapScorer"/> run.</summary>
public sealed record ScoreOptions
{
    /// <summary>Foreground classes 1..N scored.</summary>
    public required int NumClasses { get; init; }

    /// <summary>Unit voxels (SAMed), the files' header voxel size, or <see cref="SpacingXyz"/>.</summary>
    public VolumeTestSpacing Spacing { get; init; } = VolumeTestSpacing.Voxels;

    /// <summary>Voxel size (x, y, z) for <see cref="VolumeTestSpacing.Explicit"/>.</summary>
    public IReadOnlyList<double>? SpacingXyz { get; init; }

    /// <summary>Names of classes 1..N; null: SAMed's organ names for 8 classes, else "class i".</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>How a class empty in either map is scored.</summary>
    public AbsentClassRule Absent { get; init; } = AbsentClassRule.Samed;

    /// <summary>Maps the reference's label values to classes first (e.g. raw Synapse labels with synapse13); null: as stored.</summary>
    public LabelMap? ReferenceLabelMap { get; init; }
}

/// <summary>Scores predicted label files against reference label files, case by case, with SAMed's per-class rule.</summary>
public static class LabelMapScorer
{
    /// <summary>
    /// SAMed's metrics of classes 1..numClasses for one case. Shapes must match, and affines too when both files
    /// have one. With <paramref name="useSpacing"/>, HD95 is in the reference's voxel-size units (mm) instead of voxels.
    /// </summary>
    public static CaseEvaluation ScoreCase(string caseName, LabelVolume prediction, LabelVolume reference, int numClasses, bool useSpacing) =>
        ScoreCase(caseName, prediction, reference, new ScoreOptions
        {
            NumClasses = numClasses,
            Spacing = useSpacing ? VolumeTestSpacing.Header : VolumeTestSpacing.Voxels,
        });

    /// <summary>SAMed's metrics of one case with the given spacing, absent-class rule and reference label map.</summary>
    public static CaseEvaluation ScoreCase(string caseName, LabelVolume prediction, LabelVolume reference, ScoreOptions options)
    {
        if (options.ReferenceLabelMap is { } map)
            reference = reference with { Labels = [.. reference.Labels.Select(v => MapLabel(map, v, reference.Source))] };
        if (!prediction.Shape.SequenceEqual(reference.Shape))
            throw new InvalidDataException(
                $"shape mismatch: {prediction.Source} has [{string.Join(", ", prediction.Shape)}], {reference.Source} has [{string.Join(", ", reference.Shape)}]");
        if (prediction.Affine is not null && reference.Affine is not null && !AffinesMatch(prediction.Affine, reference.Affine))
            throw new InvalidDataException(
                $"affine mismatch: {prediction.Source} has {Format(prediction.Affine)}, {reference.Source} has {Format(reference.Affine)}");
        double[]? spacing = null;
        if (options.Spacing == VolumeTestSpacing.Explicit)
        {
            var xyz = options.SpacingXyz is { Count: 3 } given && given.All(v => double.IsFinite(v) && v > 0)
                ? given : throw new ArgumentException("explicit spacing needs three positive voxel sizes x,y,z");
            if (reference.Shape.Length != 3)
                throw new InvalidDataException($"{reference.Source}: spacing x,y,z needs a 3-d volume, got [{string.Join(", ", reference.Shape)}]");
            spacing = [xyz[2], xyz[1], xyz[0]];
        }
        else if (options.Spacing == VolumeTestSpacing.Header)
        {
            spacing = reference.Spacing ?? prediction.Spacing
                ?? throw new InvalidDataException($"neither {prediction.Source} nor {reference.Source} records a voxel size; give --spacing x,y,z or score in voxels");
            if (prediction.Spacing is not null && reference.Spacing is not null && !SpacingsMatch(prediction.Spacing, reference.Spacing))
                throw new InvalidDataException(
                    $"voxel size mismatch: {prediction.Source} has [{string.Join(", ", prediction.Spacing)}], {reference.Source} has [{string.Join(", ", reference.Spacing)}]");
        }

        var grid = new VoxelGrid(reference.Shape, spacing);
        var metrics = SamedMetrics.MetricPerClass(
            prediction.Labels, reference.Labels, grid, options.NumClasses, prediction.Source, reference.Source, options.Absent);
        return new CaseEvaluation(caseName, metrics);
    }

    private static int MapLabel(LabelMap map, int value, string source) =>
        map.TryMap(value, out int target, out _)
            ? target
            : throw new InvalidDataException($"{source}: label {value} is not in label map '{map.Name}'");

    /// <summary>Reads and scores every pair in order (one pair in memory at a time) and builds the report.</summary>
    /// <param name="progress">Called with each case once it is scored (e.g. to log it).</param>
    public static EvaluationReport Score(
        IReadOnlyList<ScorePair> pairs, int numClasses, bool useSpacing,
        IReadOnlyList<string>? classNames = null, Action<int, CaseEvaluation>? progress = null) =>
        Score(pairs, new ScoreOptions
        {
            NumClasses = numClasses,
            Spacing = useSpacing ? VolumeTestSpacing.Header : VolumeTestSpacing.Voxels,
            ClassNames = classNames,
        }, progress);

    /// <summary>Reads and scores every pair in order (one pair in memory at a time) and builds the report.</summary>
    /// <param name="progress">Called with each case once it is scored (e.g. to log it).</param>
    public static EvaluationReport Score(IReadOnlyList<ScorePair> pairs, ScoreOptions options, Action<int, CaseEvaluation>? progress = null)
    {
        int numClasses = options.NumClasses;
        var names = options.ClassNames ?? ClassNames.For(numClasses);
        if (names.Count != numClasses)
            throw new ArgumentException($"{names.Count} class names given for {numClasses} classes");
        var cases = new List<CaseEvaluation>();
        foreach (var pair in pairs)
        {
            var prediction = LabelVolume.Read(pair.Prediction);
            var reference = LabelVolume.Read(pair.Reference);
            var evaluation = ScoreCase(pair.Case, prediction, reference, options);
            progress?.Invoke(cases.Count, evaluation);
            cases.Add(evaluation);
        }

        return new EvaluationReport(cases, names, options.Spacing == VolumeTestSpacing.Voxels ? "voxels" : "mm");
    }

    // NIfTI stores affines as float32; allow for the rounding of two writers of the same geometry.
    private static bool AffinesMatch(double[,] a, double[,] b)
    {
        if (a.GetLength(0) != b.GetLength(0) || a.GetLength(1) != b.GetLength(1))
            return false;
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++)
                if (Math.Abs(a[i, j] - b[i, j]) > 1e-4 * Math.Max(1, Math.Max(Math.Abs(a[i, j]), Math.Abs(b[i, j]))))
                    return false;
        return true;
    }

    private static bool SpacingsMatch(double[] a, double[] b) =>
        a.Length == b.Length && a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1e-5 * Math.Max(1, Math.Abs(p.Second)));

    private static string Format(double[,] affine) =>
        "[" + string.Join("; ", Enumerable.Range(0, affine.GetLength(0)).Select(i =>
            string.Join(" ", Enumerable.Range(0, affine.GetLength(1)).Select(j => affine[i, j].ToString("G6", System.Globalization.CultureInfo.InvariantCulture))))) + "]";
}
