namespace SAMed.Evaluation;

/// <summary>One class of one case as SAMed's calculate_metric_percase returns it.</summary>
public sealed record ClassMetric(double Dice, double Hd95);
