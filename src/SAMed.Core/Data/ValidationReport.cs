namespace SAMed.Data;

/// <summary>One problem with one file of a data set; a warning when it does not make the data set unusable.</summary>
public sealed record ValidationProblem(string File, string Problem, bool IsWarning = false)
{
    public override string ToString() => $"{File}: {(IsWarning ? "warning: " : "")}{Problem}";
}

/// <summary>
/// Everything a validation pass found; empty <see cref="Problems"/> means the data set is usable. <see cref="Warnings"/>
/// are oddities that do not stop training (e.g. images outside SAMed's preprocessed [0, 1] range).
/// </summary>
public sealed record ValidationReport(
    IReadOnlyList<ValidationProblem> Problems, IReadOnlyList<ValidationProblem> Warnings, int TrainSlicesChecked, int TestVolumesChecked)
{
    public bool IsValid => Problems.Count == 0;

    public string Summary => (IsValid ? "valid" : $"{Problems.Count} problem(s)")
        + (Warnings.Count > 0 ? $", {Warnings.Count} warning(s)" : "")
        + $": {TrainSlicesChecked} training slices and {TestVolumesChecked} test volumes checked";

    /// <summary>Throws one exception that lists every problem (each naming its file) when there is any.</summary>
    public void ThrowIfInvalid()
    {
        if (!IsValid)
            throw new InvalidDataException($"data set is not valid, {Summary}:{Environment.NewLine}{string.Join(Environment.NewLine, Problems)}");
    }
}
