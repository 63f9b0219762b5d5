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
        return OfSorted(sorted, percent);
    }

    /// <summary>numpy's linear percentile of values already sorted ascending (no NaN).</summary>
    internal static double OfSorted(double[] sorted, double percent) =>
        OfRanks(sorted.Length, percent, (below, above) => (sorted[below], sorted[above]));

    /// <summary>
    /// numpy's linear percentile of <paramref name="count"/> values known by rank (0 = smallest): the values at the
    /// ranks below and above (count - 1)·q (the same rank at either end), interpolated.
    /// </summary>
    internal static double OfRanks(long count, double percent, Func<long, long, (double Below, double Above)> valuesAtRanks)
    {
        double position = (count - 1) * (percent / 100.0);
        long below = (long)Math.Floor(position);
        long above = Math.Min(below + 1, count - 1);
        var (low, high) = valuesAtRanks(below, above);
        return Lerp(low, high, position - below);
    }

    // numpy's _lerp: interpolates from the nearer end so that fraction 1 returns b exactly.
    private static double Lerp(double a, double b, double fraction)
    {
        double difference = b - a;
        return fraction >= 0.5 ? b - difference * (1 - fraction) : a + difference * fraction;
    }
}
