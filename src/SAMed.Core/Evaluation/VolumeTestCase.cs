using SAMed.IO;

namespace SAMed.Evaluation;

/// <summary>
/// One test volume in SAMed's layout: image (in [0, 1]) and integer labels, float32 C order [Depth, Height, Width]
/// (= the NIfTI voxel array [x, y, z] transposed). <paramref name="SpacingXyz"/> is the voxel size from a NIfTI
/// header (null for h5 volumes, which carry none); <paramref name="Geometry"/> the source header, if any.
/// </summary>
public sealed record VolumeTestCase(
    string Name,
    int Depth,
    int Height,
    int Width,
    float[] Image,
    float[] Label,
    string Source,
    double[]? SpacingXyz = null,
    NiftiHeader? Geometry = null)
{
    public int SliceSize => Height * Width;

    public float[,] ImageSlice(int slice)
    {
        var result = new float[Height, Width];
        Buffer.BlockCopy(Image, slice * SliceSize * sizeof(float), result, 0, SliceSize * sizeof(float));
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
