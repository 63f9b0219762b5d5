namespace SAMed.Data;

/// <summary>
/// One case after SAMed's preprocessing: Image (clipped and scaled to [0, 1]) and Label (mapped class ids), both float32
/// in C order [Depth, Height, Width] = the NIfTI voxel array [x, y, z] transposed (2, 1, 0), with no reorientation.
/// </summary>
public sealed record PreparedVolume(
    string Name,
    int Depth,
    int Height,
    int Width,
    float[] Image,
    float[] Label,
    IReadOnlyDictionary<int, long> LabelVoxels,
    IReadOnlyDictionary<int, long> UnlistedSourceVoxels,
    IReadOnlyList<string> Warnings)
{
    public int SliceSize => Height * Width;

    public float[] ImageSlice(int slice) => Image.AsSpan(slice * SliceSize, SliceSize).ToArray();

    public float[] LabelSlice(int slice) => Label.AsSpan(slice * SliceSize, SliceSize).ToArray();
}
