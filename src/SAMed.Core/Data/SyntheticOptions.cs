namespace SAMed.Data;

/// <summary>
/// Size and content of a synthetic CT-like data set. The defaults are tiny (64x64 in-plane, 16-24 slices, 4 training
/// and 2 test cases, SAMed's 8 Synapse classes) so smoke training can use them.
/// </summary>
public sealed record SyntheticOptions
{
    public int NumClasses { get; init; } = 8;
    public int TrainCases { get; init; } = 4;
    public int TestCases { get; init; } = 2;
    public int Height { get; init; } = 64;
    public int Width { get; init; } = 64;
    public int MinSlices { get; init; } = 16;
    public int MaxSlices { get; init; } = 24;
    public int Seed { get; init; } = 1234;

    public int TotalCases => TrainCases + TestCases;

    /// <summary>Case names as SAMed spells them: case0001, case0002, ...; training cases first.</summary>
    public string CaseName(int caseIndex) => $"case{caseIndex + 1:0000}";

    public void ThrowIfInvalid()
    {
        if (NumClasses is < 1 or > 255)
            throw new ArgumentOutOfRangeException(nameof(NumClasses), NumClasses, "synthetic data needs 1..255 foreground classes");
        if (TrainCases < 0 || TestCases < 0 || TotalCases < 1)
            throw new ArgumentOutOfRangeException(nameof(TrainCases), $"need at least one case (train {TrainCases}, test {TestCases})");
        if (Height < 16 || Width < 16)
            throw new ArgumentOutOfRangeException(nameof(Height), $"in-plane size must be at least 16x16, got {Height}x{Width}");
        if (MinSlices < 1 || MaxSlices < MinSlices)
            throw new ArgumentOutOfRangeException(nameof(MinSlices), $"need 1 <= min slices <= max slices, got {MinSlices}..{MaxSlices}");
    }
}
