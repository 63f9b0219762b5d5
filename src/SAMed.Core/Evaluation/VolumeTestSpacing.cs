namespace SAMed.Evaluation;

/// <summary>How HD95 distances are measured.</summary>
public enum VolumeTestSpacing
{
    /// <summary>Unit voxels, as SAMed's test.py (medpy without voxelspacing).</summary>
    Voxels,

    /// <summary>A voxel size given explicitly as x, y, z.</summary>
    Explicit,

    /// <summary>The voxel size of each volume's NIfTI header.</summary>
    Header,
}
