using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// One volume in SAMed's preprocessed layout, as prepare makes it from a NIfTI pair or as a test_vol_h5 file holds it:
/// Image (clipped and scaled to [0, 1]) and Label (class ids), both float32 in C order [Depth, Height, Width] = the
/// NIfTI voxel array [x, y, z] transposed (2, 1, 0), with no reorientation. <paramref name="Source"/> is the file
/// errors about the labels name.
/// </summary>
public sealed record PreparedVolume(
    string Name,
    int Depth,
    int Height,
    int Width,
    float[] Image,
    float[] Label,
    string Source)
{
    private static readonly IReadOnlyDictionary<int, long> NoCounts = new SortedDictionary<int, long>();

    /// <summary>The voxel size from the NIfTI header; null for h5 volumes, which carry none.</summary>
    public double[]? SpacingXyz { get; init; }

    /// <summary>The source NIfTI header, if the volume came from one.</summary>
    public NiftiHeader? Geometry { get; init; }

    /// <summary>Voxels per mapped class id, counted while mapping NIfTI labels; empty for volumes read from h5.</summary>
    public IReadOnlyDictionary<int, long> LabelVoxels { get; init; } = NoCounts;

    /// <summary>Voxels per source label id that the label map does not list (mapped to background).</summary>
    public IReadOnlyDictionary<int, long> UnlistedSourceVoxels { get; init; } = NoCounts;

    /// <summary>What preparing the volume noticed but did not refuse (e.g. the label's affine differs from the image's).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public int SliceSize => Height * Width;

    public float[] ImageSlice(int slice) => Image.AsSpan(slice * SliceSize, SliceSize).ToArray();

    public float[] LabelSlice(int slice) => Label.AsSpan(slice * SliceSize, SliceSize).ToArray();

    /// <summary>One image slice as a [Height, Width] array.</summary>
    public float[,] ImageSlice2D(int slice)
    {
        var result = new float[Height, Width];
        Buffer.BlockCopy(Image, slice * SliceSize * sizeof(float), result, 0, SliceSize * sizeof(float));
        return result;
    }

    /// <summary>One label slice as a [Height, Width] array.</summary>
    public float[,] LabelSlice2D(int slice)
    {
        var result = new float[Height, Width];
        Buffer.BlockCopy(Label, slice * SliceSize * sizeof(float), result, 0, SliceSize * sizeof(float));
        return result;
    }

    /// <summary>
    /// The labels as integers, checked: every value must be a whole number in 0..numClasses, else an error naming
    /// the file, the value and where it is.
    /// </summary>
    public int[] CheckedLabels(int numClasses)
    {
        if (Label.Length != Image.Length || Image.Length != (long)Depth * Height * Width)
            throw new InvalidDataException($"{Source}: image ({Image.Length}) and label ({Label.Length}) sizes differ from [{Depth}, {Height}, {Width}]");
        var labels = new int[Label.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            float value = Label[i];
            if (!(value >= 0 && value <= numClasses) || value != MathF.Floor(value))
            {
                throw new InvalidDataException(
                    $"{Source}: ground-truth label {value} at (slice {i / SliceSize}, y {i / Width % Height}, x {i % Width}) is outside 0..{numClasses} "
                    + $"(num_classes = {numClasses}) or not a whole number");
            }
            labels[i] = (int)value;
        }
        return labels;
    }
}
