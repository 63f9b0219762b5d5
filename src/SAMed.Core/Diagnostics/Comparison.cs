using System.Globalization;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Diagnostics;

/// <summary>Element-wise tolerance: |got - want| &lt;= Atol + Rtol * |want| (numpy's allclose, as the reference cases state it).</summary>
public sealed record Tolerance(double Atol, double Rtol)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"atol {Atol:G3}, rtol {Rtol:G3}");
}

/// <summary>
/// One tensor (or number) compared with what it should be: the largest difference, the elements outside the
/// tolerance and the worst of them (the one furthest beyond what the tolerance allows).
/// </summary>
public sealed record Comparison(string What, Tolerance Tolerance, long Count, long Violations, double MaxAbsDiff, long WorstIndex, double WorstGot, double WorstWant)
{
    /// <summary>Why nothing could be compared (a shape that differs, a tensor missing on one side), or null.</summary>
    public string? Problem { get; init; }

    /// <summary>NaN or infinity where the wanted value is finite.</summary>
    public long NonFinite { get; init; }

    public bool Passed => Problem is null && Violations == 0 && NonFinite == 0;

    /// <summary>"low_res_logits: max |diff| 3.1e-06 (atol 2e-05, rtol 0.0001) ok" or what failed and where.</summary>
    public string Describe()
    {
        if (Problem is not null)
            return $"{What}: {Problem} FAILED";
        string text = string.Create(CultureInfo.InvariantCulture, $"{What}: max |diff| {MaxAbsDiff:G3} ({Tolerance})");
        if (Passed)
            return text + " ok";
        if (NonFinite > 0)
            text += string.Create(CultureInfo.InvariantCulture, $"; {NonFinite} of {Count} values not finite");
        if (Violations > 0)
        {
            text += string.Create(CultureInfo.InvariantCulture,
                $"; {Violations} of {Count} elements outside the tolerance, worst at flat index {WorstIndex}: got {WorstGot:R}, want {WorstWant:R}");
        }
        return text + " FAILED";
    }

    /// <summary>Compares <paramref name="got"/> with <paramref name="want"/> (any devices and types) in float64 on the CPU.</summary>
    public static Comparison Of(string what, Tensor got, Tensor want, Tolerance tolerance)
    {
        if (!got.shape.SequenceEqual(want.shape))
        {
            return new Comparison(what, tolerance, want.numel(), want.numel(), double.NaN, -1, double.NaN, double.NaN)
            {
                Problem = $"shape [{string.Join(", ", got.shape)}] but [{string.Join(", ", want.shape)}] was expected",
            };
        }
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var g = got.detach().to(torch.CPU).to_type(ScalarType.Float64);
        var w = want.detach().to(torch.CPU).to_type(ScalarType.Float64);
        long count = w.numel();
        if (count == 0)
            return new Comparison(what, tolerance, 0, 0, 0, -1, 0, 0);
        var diff = (g - w).abs();
        var excess = diff - ScalarMath.Plus(ScalarMath.Times(w.abs(), tolerance.Rtol), tolerance.Atol);
        long nonFinite = (g.isfinite().logical_not().logical_and(w.isfinite())).sum().item<long>();
        // NaN differences count as violations and as the worst element.
        var excessOrInf = excess.nan_to_num(double.PositiveInfinity, double.PositiveInfinity, double.NegativeInfinity);
        using var zero = 0.0.ToScalar();
        long violations = excessOrInf.gt(zero).sum().item<long>();
        long worst = excessOrInf.flatten().argmax().item<long>();
        double maxDiff = diff.nan_to_num(double.PositiveInfinity).max().item<double>();
        return new Comparison(what, tolerance, count, violations, maxDiff, worst, g.flatten()[worst].item<double>(), w.flatten()[worst].item<double>())
        {
            NonFinite = nonFinite,
        };
    }

    /// <summary>A comparison that could not be made, failed with the reason.</summary>
    public static Comparison Failed(string what, Tolerance tolerance, string problem) =>
        new(what, tolerance, 0, 0, double.NaN, -1, double.NaN, double.NaN) { Problem = problem };

    /// <summary>Compares two numbers.</summary>
    public static Comparison Of(string what, double got, double want, Tolerance tolerance)
    {
        double diff = Math.Abs(got - want);
        bool inside = diff <= tolerance.Atol + tolerance.Rtol * Math.Abs(want);
        bool nonFinite = !double.IsFinite(got) && double.IsFinite(want);
        return new Comparison(what, tolerance, 1, inside ? 0 : 1, double.IsNaN(diff) ? double.PositiveInfinity : diff, 0, got, want)
        {
            NonFinite = nonFinite ? 1 : 0,
        };
    }
}
