namespace SAMed.Data;

/// <summary>One problem with one file of a data set.</summary>
public sealed record ValidationProblem(string File, string Problem)
{
    public override string ToString() => $"{File}: {Problem}";
}

/// <summary>Everything a validation pass found; empty <see cref="Problems"/> means the data set is usable.</summary>
public sealed record ValidationReport(IReadOnlyList<ValidationProblem> Problems, int TrainSlicesChecked, int TestVolumesChecked)
{
    public bool IsValid => Problems.Count == 0;

    public string Summary => IsValid
        ? $"valid: {TrainSlicesChecked} training slices and {TestVolumesChecked} test volumes checked"
        : $"{Problems.Count} problem(s) in {TrainSlicesChecked} training slices and {TestVolumesChecked} test volumes checked";

    /// <summary>Throws one exception that lists every problem (each naming its file) when there is any.</summary>
    public void ThrowIfInvalid()
    {
        if (!IsValid)
            throw new InvalidDataException($"data set is not valid, {Summary}:{Environment.NewLine}{string.Join(Environment.NewLine, Problems)}");
    }
}
