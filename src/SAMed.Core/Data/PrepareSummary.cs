namespace SAMed.Data;

/// <summary>One prepared case: its [D, H, W] shape, whether it went to train and/or test, and its class voxel counts.</summary>
public sealed record PreparedCaseSummary(
    string Name,
    int Depth,
    int Height,
    int Width,
    bool Train,
    bool Test,
    IReadOnlyDictionary<int, long> LabelVoxels);

/// <summary>What <see cref="Prepare.Run"/> wrote.</summary>
public sealed record PrepareSummary(
    IReadOnlyList<PreparedCaseSummary> Cases,
    int TrainSlices,
    IReadOnlyDictionary<int, long> LabelVoxels,
    IReadOnlyDictionary<int, long> UnlistedSourceVoxels,
    IReadOnlyList<string> Warnings)
{
    public int TrainCases => Cases.Count(c => c.Train);
    public int TestCases => Cases.Count(c => c.Test);
}

/// <summary>Progress of <see cref="Prepare.Run"/>: case Index (1-based) of Count finished.</summary>
public sealed record PrepareProgress(int Index, int Count, PreparedCaseSummary Case);
