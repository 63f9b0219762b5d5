namespace SAMed.Data;

/// <summary>
/// How <see cref="Prepare"/> turns NIfTI pairs (or 2D images and masks) into SAMed's layout. The defaults are SAMed's preprocess_data.py:
/// clip to [-125, 275] and scale to [0, 1]; test cases are left out of training.
/// </summary>
public sealed record PrepareOptions
{
    /// <summary>Where train_npz/ and test_vol_h5/ go.</summary>
    public required string OutputDir { get; init; }

    /// <summary>Where train.txt and test_vol.txt go; the output folder when null.</summary>
    public string? ListDir { get; init; }

    public LabelMap LabelMap { get; init; } = LabelMap.Synapse13;

    /// <summary>2D masks: pixels above half the sample maximum are class 1, the rest 0 (0/255 masks, JPEG noise included).</summary>
    public bool BinaryMasks { get; init; }

    /// <summary>2D masks: colours to class ids instead of grey label values.</summary>
    public MaskColors? MaskColors { get; init; }

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

    /// <summary>
    /// Side of the square training slices, or null to keep each slice's own size. SAMed's paper trained on 224 x 224
    /// slices "downsampled from the 512x512 version": each slice is zoomed as its RandomGenerator zooms (image
    /// order 3, label order 0, factors TrainSize / H and TrainSize / W). Test volumes always stay at their own size.
    /// </summary>
    public int? TrainSize { get; init; }

    /// <summary>Write the test volumes chunked and gzip-compressed instead of contiguous like h5py's default.</summary>
    public bool CompressH5 { get; init; }
}
