namespace SAMed.Evaluation;

/// <summary>How a class that is empty in the reference or in the prediction of a case is scored.</summary>
public enum AbsentClassRule
{
    /// <summary>
    /// SAMed's calculate_metric_percase (utils.py): predicted but absent from the reference -> Dice 1, HD95 0; not
    /// predicted (whether present in the reference or not) -> Dice 0, HD95 0. A correctly absent organ lowers the mean
    /// Dice, a false positive on an absent organ raises it, and a missed organ lowers the mean HD95.
    /// </summary>
    Samed,

    /// <summary>
    /// MONAI's convention (DiceMetric with ignore_empty=True, HausdorffDistanceMetric): absent from the reference ->
    /// Dice NaN and HD95 NaN; present but not predicted -> Dice 0 and HD95 NaN (no surface to measure). Means skip NaN.
    /// </summary>
    Nan,
}

public static class AbsentClassRules
{
    /// <summary>The metric of a class that is empty in the prediction, the reference, or both.</summary>
    public static ClassMetric Score(this AbsentClassRule rule, bool predicted, bool labelled) => rule switch
    {
        AbsentClassRule.Samed => predicted ? new ClassMetric(1, 0) : new ClassMetric(0, 0),
        AbsentClassRule.Nan => labelled ? new ClassMetric(0, double.NaN) : new ClassMetric(double.NaN, double.NaN),
        _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "unknown absent-class rule"),
    };
}
