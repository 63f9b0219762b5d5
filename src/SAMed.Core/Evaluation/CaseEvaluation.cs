using System.Globalization;

namespace SAMed.Evaluation;

/// <summary>The metrics of classes 1..N (index 0 is class 1) of one case.</summary>
public sealed record CaseEvaluation(string Case, IReadOnlyList<ClassMetric> Classes)
{
    /// <summary>np.mean(metric_i, axis=0)[0] in test.py.</summary>
    public double MeanDice => Mean.Of(Classes.Select(c => c.Dice));

    /// <summary>np.mean(metric_i, axis=0)[1] in test.py.</summary>
    public double MeanHd95 => Mean.Of(Classes.Select(c => c.Hd95));

    /// <summary>test.py's per-case line: "idx {index} case {Case} mean_dice %f mean_hd95 %f".</summary>
    public string SamedLogLine(int index) =>
        string.Create(CultureInfo.InvariantCulture, $"idx {index} case {Case} mean_dice {MeanDice:F6} mean_hd95 {MeanHd95:F6}");
}

internal static class Mean
{
    // Sums in order, as numpy's reductions over SAMed's small per-class arrays do. NaN values (AbsentClassRule.Nan)
    // are skipped, as np.nanmean and MONAI's "mean" reduction do; all NaN gives NaN. SAMed's rule makes no NaN.
    public static double Of(IEnumerable<double> values)
    {
        double sum = 0;
        int count = 0, nan = 0;
        foreach (double v in values)
        {
            if (double.IsNaN(v))
            {
                nan++;
                continue;
            }

            sum += v;
            count++;
        }

        if (count == 0 && nan == 0)
            throw new InvalidOperationException("the mean of no values is undefined");
        return count == 0 ? double.NaN : sum / count;
    }
}
