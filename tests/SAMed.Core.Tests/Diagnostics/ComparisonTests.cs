using SAMed.Diagnostics;
using TorchSharp;

namespace SAMed.Tests.Diagnostics;

/// <summary>Element-wise comparison at a tolerance: |got - want| &lt;= atol + rtol * |want|.</summary>
public class ComparisonTests
{
    private static readonly Tolerance Tolerance = new(1e-3, 1e-2);

    [Fact]
    public void InsideTheToleranceEverywherePasses()
    {
        using var want = torch.tensor(new[] { 1f, -2f, 100f });
        using var got = torch.tensor(new[] { 1.0005f, -2.02f, 100.9f });
        var comparison = Comparison.Of("x", got, want, Tolerance);
        Assert.True(comparison.Passed, comparison.Describe());
        Assert.Equal(0.9, comparison.MaxAbsDiff, 3);
        Assert.EndsWith(" ok", comparison.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void OneElementOutsideFailsAndIsNamed()
    {
        using var want = torch.tensor(new[] { 1f, -2f, 100f });
        using var got = torch.tensor(new[] { 1f, -2.1f, 100f });
        var comparison = Comparison.Of("x", got, want, Tolerance);
        Assert.False(comparison.Passed);
        Assert.Equal(1, comparison.Violations);
        Assert.Equal(1, comparison.WorstIndex);
        Assert.Contains("1 of 3 elements outside", comparison.Describe(), StringComparison.Ordinal);
        Assert.EndsWith("FAILED", comparison.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void NanShapeAndScalarsAreChecked()
    {
        using var want = torch.tensor(new[] { 1f, 2f });
        using var nan = torch.tensor(new[] { 1f, float.NaN });
        Assert.False(Comparison.Of("nan", nan, want, Tolerance).Passed);
        using var longer = torch.tensor(new[] { 1f, 2f, 3f });
        var shape = Comparison.Of("shape", longer, want, Tolerance);
        Assert.False(shape.Passed);
        Assert.Contains("shape [3]", shape.Describe(), StringComparison.Ordinal);
        Assert.True(Comparison.Of("loss", 0.8341, 0.8340, new Tolerance(1e-3, 0)).Passed);
        Assert.False(Comparison.Of("loss", 0.8341, 0.8340, new Tolerance(1e-5, 1e-5)).Passed);
        Assert.False(Comparison.Of("loss", double.NaN, 0.8340, new Tolerance(1, 1)).Passed);
    }
}
