namespace SAMed.Evaluation;

/// <summary>Scores predicted label files against reference label files, case by case, with SAMed's per-class rule.</summary>
public static class LabelMapScorer
{
    /// <summary>
    /// SAMed's metrics of classes 1..numClasses for one case. Shapes must match, and affines too when both files
    /// have one. With <paramref name="useSpacing"/>, HD95 is in the reference's voxel-size units (mm) instead of voxels.
    /// </summary>
    public static CaseEvaluation ScoreCase(string caseName, LabelVolume prediction, LabelVolume reference, int numClasses, bool useSpacing)
    {
        if (!prediction.Shape.SequenceEqual(reference.Shape))
            throw new InvalidDataException(
                $"shape mismatch: {prediction.Source} has [{string.Join(", ", prediction.Shape)}], {reference.Source} has [{string.Join(", ", reference.Shape)}]");
        if (prediction.Affine is not null && reference.Affine is not null && !AffinesMatch(prediction.Affine, reference.Affine))
            throw new InvalidDataException(
                $"affine mismatch: {prediction.Source} has {Format(prediction.Affine)}, {reference.Source} has {Format(reference.Affine)}");
        double[]? spacing = null;
        if (useSpacing)
        {
            spacing = reference.Spacing ?? prediction.Spacing
                ?? throw new InvalidDataException($"neither {prediction.Source} nor {reference.Source} records a voxel size; score in voxels (without spacing)");
            if (prediction.Spacing is not null && reference.Spacing is not null && !SpacingsMatch(prediction.Spacing, reference.Spacing))
                throw new InvalidDataException(
                    $"voxel size mismatch: {prediction.Source} has [{string.Join(", ", prediction.Spacing)}], {reference.Source} has [{string.Join(", ", reference.Spacing)}]");
        }

        var grid = new VoxelGrid(reference.Shape, spacing);
        var metrics = SamedMetrics.MetricPerClass(prediction.Labels, reference.Labels, grid, numClasses, prediction.Source, reference.Source);
        return new CaseEvaluation(caseName, metrics);
    }

    /// <summary>Reads and scores every pair in order (one pair in memory at a time) and builds the report.</summary>
    /// <param name="progress">Called with each case once it is scored (e.g. to log it).</param>
    public static EvaluationReport Score(
        IReadOnlyList<ScorePair> pairs, int numClasses, bool useSpacing,
        IReadOnlyList<string>? classNames = null, Action<int, CaseEvaluation>? progress = null)
    {
        var names = classNames ?? ClassNames.For(numClasses);
        if (names.Count != numClasses)
            throw new ArgumentException($"{names.Count} class names given for {numClasses} classes");
        var cases = new List<CaseEvaluation>();
        foreach (var pair in pairs)
        {
            var prediction = LabelVolume.Read(pair.Prediction);
            var reference = LabelVolume.Read(pair.Reference);
            var evaluation = ScoreCase(pair.Case, prediction, reference, numClasses, useSpacing);
            progress?.Invoke(cases.Count, evaluation);
            cases.Add(evaluation);
        }

        return new EvaluationReport(cases, names, useSpacing ? "mm" : "voxels");
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
