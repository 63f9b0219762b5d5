using SAMed.Evaluation;

namespace SAMed.Tests.Evaluation;

public class PercentileTests
{
    [Theory]
    // numpy.percentile(values, q) with the default linear method.
    [InlineData(new[] { 4.0, 1.0, 3.0, 2.0 }, 95, 3.85)]
    [InlineData(new[] { 0.0, 10.0 }, 95, 9.5)]
    [InlineData(new[] { 7.0 }, 95, 7.0)]
    [InlineData(new[] { 1.0, 2.0, 3.0 }, 50, 2.0)]
    [InlineData(new[] { 1.0, 2.0, 3.0 }, 100, 3.0)]
    [InlineData(new[] { 1.0, 2.0, 3.0 }, 0, 1.0)]
    public void MatchesNumpyLinearPercentile(double[] values, double q, double expected) =>
        Assert.Equal(expected, Percentile.Linear(values, q), 1e-12);

    [Fact]
    public void EmptyInputIsRejected() =>
        Assert.Throws<ArgumentException>(() => Percentile.Linear([], 95));
}
