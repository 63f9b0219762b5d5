using System.Globalization;

namespace SAMed.Diagnostics;

/// <summary>Comparisons of one kind (the forward's tensors, the losses, the gradients, the tensors after the steps).</summary>
public sealed record CheckGroup(string Name, IReadOnlyList<Comparison> Comparisons)
{
    public bool Passed => Comparisons.All(c => c.Passed);

    /// <summary>
    /// "gradients: 44 values, largest |diff| 3.1e-09 (mask_decoder.x) at atol 1e-06, rtol 0.001: pass", followed by
    /// one line per failed comparison.
    /// </summary>
    public IEnumerable<string> Describe()
    {
        var largest = Comparisons.Where(c => c.Problem is null).MaxBy(c => c.MaxAbsDiff);
        string tolerance = Comparisons.Select(c => c.Tolerance).Distinct().Count() == 1 ? $" at {Comparisons[0].Tolerance}" : "";
        string count = Comparisons.Count == 1 ? "1 value" : $"{Comparisons.Count} values";
        string diff = largest is null ? "" : string.Create(CultureInfo.InvariantCulture, $", largest |diff| {largest.MaxAbsDiff:G3} ({largest.What})");
        yield return $"{Name}: {count}{diff}{tolerance}: {(Passed ? "pass" : "FAIL")}";
        foreach (var failed in Comparisons.Where(c => !c.Passed))
            yield return "  " + failed.Describe();
    }
}
