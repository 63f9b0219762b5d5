using SAMed.Data;
using SAMed.Evaluation;

namespace SAMed.VolumeTesting;

/// <summary>Settings of a <see cref="VolumeTester"/> run.</summary>
public sealed record VolumeTestOptions
{
    public required int NumClasses { get; init; }

    /// <summary>Slices per forward pass.</summary>
    public int BatchSize { get; init; } = 8;

    public VolumeTestSpacing Spacing { get; init; } = VolumeTestSpacing.Voxels;

    /// <summary>Voxel size (x, y, z) for <see cref="VolumeTestSpacing.Explicit"/>; the arrays are [z, y, x].</summary>
    public IReadOnlyList<double>? SpacingXyz { get; init; }

    /// <summary>Folder for CASE_pred.nii.gz, CASE_img.nii.gz and CASE_gt.nii.gz (SAMed's --is_savenii); null: none.</summary>
    public string? SaveNiftiDir { get; init; }

    /// <summary>Names of classes 1..N in the report; null: SAMed's organ names for 8 classes, else "class i".</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>How a class empty in the prediction or the label of a case is scored (SAMed's rule by default).</summary>
    public AbsentClassRule Absent { get; init; } = AbsentClassRule.Samed;

    public string DistanceUnit => Spacing == VolumeTestSpacing.Voxels ? "voxels" : "mm";

    /// <summary>The voxel spacing of a volume's grid in array order [z, y, x], or null for unit voxels.</summary>
    public double[]? GridSpacing(StoredVolume volume)
    {
        IReadOnlyList<double>? xyz = Spacing switch
        {
            VolumeTestSpacing.Explicit => SpacingXyz,
            VolumeTestSpacing.Header => volume.SpacingXyz
                ?? throw new InvalidDataException($"{volume.Source}: has no voxel size (SAMed's h5 volumes carry none); give the spacing explicitly as x,y,z"),
            _ => null,
        };
        return xyz is null ? null : [xyz[2], xyz[1], xyz[0]];
    }

    public void Validate()
    {
        if (NumClasses < 1)
            throw new ArgumentOutOfRangeException(nameof(NumClasses), NumClasses, "num_classes must be at least 1");
        if (BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "batch size must be at least 1");
        if (Spacing == VolumeTestSpacing.Explicit
            && (SpacingXyz is not { Count: 3 } || SpacingXyz.Any(s => !double.IsFinite(s) || s <= 0)))
            throw new ArgumentException($"explicit spacing needs three positive voxel sizes x,y,z, got [{string.Join(", ", SpacingXyz ?? [])}]");
        if (ClassNames is not null && ClassNames.Count != NumClasses)
            throw new ArgumentException($"{ClassNames.Count} class names for {NumClasses} classes");
    }
}

/// <summary>What a test run is doing with a case.</summary>
public enum VolumeTestStage
{
    Reading,
    Segmenting,
    Scoring,
    WritingNifti,
}

/// <summary>
/// Progress of a test run: when the run waits for a case to be read, after each batch of slices, while its metrics are
/// computed, when the case's metrics are done (<see cref="Result"/> set), and when the run waits for its NIfTI files
/// (written while the next case is segmented).
/// </summary>
public sealed record VolumeTestProgress(int CaseIndex, int CaseCount, string Case, int SlicesDone, int SliceCount, CaseEvaluation? Result)
{
    public VolumeTestStage Stage { get; init; } = VolumeTestStage.Segmenting;
}
