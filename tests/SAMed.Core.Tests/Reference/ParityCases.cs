using SAMed.Diagnostics;
using static TorchSharp.torch;

namespace SAMed.Tests.Reference;

/// <summary>
/// The model cases the tests run (<see cref="ParityCase"/> reads one): those under ../shared/reference plus the
/// folders named in SAMED_REFERENCE_CASES, and the assertion every comparison with a case makes.
/// </summary>
public static class ParityCases
{
    public const string CasesVariable = "SAMED_REFERENCE_CASES";

    /// <summary>
    /// Every model case: the folders under parity/ and adapter/ plus every folder named in SAMED_REFERENCE_CASES
    /// (':'-separated) whose case.json kind is parity (or absent) or adapter. A named folder without case.json is
    /// still returned, so that its test fails loudly; folders of other kinds belong to other tests.
    /// </summary>
    public static IReadOnlyList<string> Directories()
    {
        var directories = ParityCase.Directories(SharedPaths.ReferenceDir).ToList();
        string? extra = Environment.GetEnvironmentVariable(CasesVariable);
        if (!string.IsNullOrWhiteSpace(extra))
        {
            foreach (string item in extra.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string full = Path.GetFullPath(item);
                if (!directories.Contains(full) && (!File.Exists(Path.Combine(full, "case.json")) || ParityCase.IsModelKind(ParityCase.KindOf(full))))
                    directories.Add(full);
            }
        }
        return directories;
    }

    /// <summary>xunit MemberData: one row per model case (SAMed LoRA and adapter).</summary>
    public static TheoryData<string> Cases() => Rows(Directories());

    /// <summary>xunit MemberData: one row per SAMed LoRA case (tests of SAMed's LoRA checkpoint format).</summary>
    public static TheoryData<string> LoraCases() =>
        Rows(Directories().Where(d => !File.Exists(Path.Combine(d, "case.json")) || ParityCase.KindOf(d) == ParityCase.ParityKind));

    /// <summary>Asserts |got - want| &lt;= atol + rtol * |want| everywhere, reporting the worst element.</summary>
    public static void AssertClose(string what, Tensor got, Tensor want, Tolerance tolerance)
    {
        var comparison = Comparison.Of(what, got, want, tolerance);
        Assert.True(comparison.Passed, comparison.Describe());
    }

    private static TheoryData<string> Rows(IEnumerable<string> directories)
    {
        var data = new TheoryData<string>();
        foreach (string directory in directories)
            data.Add(directory);
        return data;
    }
}
