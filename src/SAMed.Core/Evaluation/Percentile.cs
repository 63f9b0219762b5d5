namespace SAMed.Evaluation;

/// <summary>numpy.percentile with its default 'linear' method.</summary>
public static class Percentile
{
    /// <param name="percent">Between 0 and 100, as numpy's q.</param>
    public static double Linear(ReadOnlySpan<double> values, double percent)
    {
        if (values.IsEmpty)
            throw new ArgumentException("the percentile of an empty set of values is undefined", nameof(values));
        if (!(percent >= 0 && percent <= 100))
            throw new ArgumentOutOfRangeException(nameof(percent), percent, "a percentile lies between 0 and 100");
        var sorted = values.ToArray();
        if (sorted.Any(double.IsNaN))
            throw new ArgumentException("values contain NaN", nameof(values));
        Array.Sort(sorted);
        double quantile = percent / 100.0;
        double position = (sorted.Length - 1) * quantile;
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Length - 1);
        double fraction = position - below;
        return Lerp(sorted[below], sorted[above], fraction);
    }

    // numpy's _lerp: interpolates from the nearer end so that fraction 1 returns b exactly.
    private static double Lerp(double a, double b, double fraction)
    {
        double difference = b - a;
        return fraction >= 0.5 ? b - difference * (1 - fraction) : a + difference * fraction;
    }
}
