namespace SAMed.Inference;

/// <summary>Settings of a <see cref="VolumePredictor"/>.</summary>
public sealed record PredictOptions
{
    /// <summary>Slices per forward pass.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>On-disk voxel axis the volume is sliced along (2: SAMed's layout, slices [y, x]).</summary>
    public int SliceAxis { get; init; } = 2;

    /// <summary>Intensities are clipped to [WindowMin, WindowMax] and scaled to [0, 1]; false: used as stored.</summary>
    public bool ApplyWindow { get; init; } = true;

    public double WindowMin { get; init; } = -125;

    public double WindowMax { get; init; } = 275;

    /// <summary>Folder for PNG overlay montages (one per volume); null: none.</summary>
    public string? OverlayDir { get; init; }

    /// <summary>Names of classes 1..N for the overlay legend.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    public static PredictOptions From(InferenceConfig config) => new()
    {
        SliceAxis = config.SliceAxis,
        WindowMin = config.WindowMin,
        WindowMax = config.WindowMax,
        ClassNames = config.ResolvedClassNames,
    };

    public void Validate()
    {
        if (BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "batch size must be at least 1");
        if (SliceAxis is < 0 or > 2)
            throw new ArgumentOutOfRangeException(nameof(SliceAxis), SliceAxis, "slice axis must be 0 (x), 1 (y) or 2 (z)");
        if (ApplyWindow && !(WindowMax > WindowMin && double.IsFinite(WindowMin) && double.IsFinite(WindowMax)))
            throw new ArgumentException($"window [{WindowMin}, {WindowMax}] must be finite and non-empty");
    }
}

/// <summary>One predicted volume: where it came from and went, its grid, and voxels per class (index = label).</summary>
public sealed record PredictResult(string Input, string Output, int[] Shape, long[] ClassVoxels, TimeSpan Elapsed, string? Overlay);

/// <summary>What a prediction is waiting for.</summary>
public enum PredictStage
{
    /// <summary>The model segments slices.</summary>
    Segmenting,

    /// <summary>The volume is being read (decompressed); the first one of a run, or one that takes longer than the model's work on the one before.</summary>
    Reading,

    /// <summary>The run waits for this volume's label map to be written (it was written while the next volume was segmented).</summary>
    Writing,
}

/// <summary>
/// Progress of a prediction: slices done of the current volume, and of all volumes of the run (<see cref="SlicesDoneInRun"/>
/// of <see cref="SliceCountInRun"/>; a single file: the same numbers).
/// </summary>
public sealed record PredictProgress(int VolumeIndex, int VolumeCount, string Input, int SlicesDone, int SliceCount, int SlicesDoneInRun, int SliceCountInRun)
{
    public PredictStage Stage { get; init; } = PredictStage.Segmenting;
}
