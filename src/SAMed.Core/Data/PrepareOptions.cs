namespace SAMed.Data;

/// <summary>
/// How <see cref="Prepare"/> turns NIfTI pairs into SAMed's layout. The defaults are SAMed's preprocess_data.py:
/// clip to [-125, 275] and scale to [0, 1]; test cases are left out of training.
/// </summary>
public sealed record PrepareOptions
{
    /// <summary>Where train_npz/ and test_vol_h5/ go.</summary>
    public required string OutputDir { get; init; }

    /// <summary>Where train.txt and test_vol.txt go; the output folder when null.</summary>
    public string? ListDir { get; init; }

    public LabelMap LabelMap { get; init; } = LabelMap.Synapse13;

    public float ClipMin { get; init; } = -125;
    public float ClipMax { get; init; } = 275;

    /// <summary>The split: explicit test case names (see <see cref="PrepareSplit"/>), a random fraction, or neither (all train).</summary>
    public IReadOnlyList<string>? TestCases { get; init; }

    public double? TestFraction { get; init; }
    public int Seed { get; init; }

    /// <summary>Also cut the test cases into training slices (SAMed leaves them out).</summary>
    public bool TestCasesAlsoTrain { get; init; }

    /// <summary>
    /// Stop when a case's label voxels with ids the map does not know (see <see cref="LabelMap.Knows"/>) are more than
    /// this fraction of its voxels: a few stray voxels are set to background and reported, more mean the wrong map.
    /// Null: no limit (unknown ids become background, as asked for with UnlistedLabels.Background).
    /// </summary>
    public double? UnknownLabelTolerance { get; init; } = DefaultUnknownLabelTolerance;

    /// <summary>One voxel in ten thousand.</summary>
    public const double DefaultUnknownLabelTolerance = 1e-4;

    /// <summary>Write the test volumes chunked and gzip-compressed instead of contiguous like h5py's default.</summary>
    public bool CompressH5 { get; init; }
}
