using SAMed.Data;
using SAMed.IO;

namespace SAMed.Inference;

/// <summary>
/// A NIfTI volume as the predictors read it: held in its stored type, cut into slices along the configured axis, and
/// each slice's scaled values (computed as <see cref="NiftiImage.ToFloat"/> does) windowed to [0, 1] when it is read,
/// as SAMed's preprocessing windows the whole volume. No converted copy of the volume is made.
/// </summary>
internal sealed class WindowedVolume
{
    private readonly PredictOptions options;
    private readonly string source;

    /// <summary>Checks the grid (3D) and the stored values (finite); each error is one line naming <paramref name="source"/>.</summary>
    public WindowedVolume(NiftiImage image, PredictOptions options, string source)
    {
        Slicer = new VolumeSlicer(SpatialShape(image.Shape, source), options.SliceAxis);
        long bad = image.FirstNonFiniteVoxel();
        if (bad >= 0)
            throw new InvalidDataException($"{source}: voxel value {image.GetValue(bad)} at flat index {bad} (images must be finite)");
        Image = image;
        this.options = options;
        this.source = source;
    }

    public NiftiImage Image { get; }

    public VolumeSlicer Slicer { get; }

    /// <summary>Slice <paramref name="index"/> as the model gets it: scaled values, windowed to [0, 1] unless the options say not to.</summary>
    public float[,] Slice(int index)
    {
        var slice = Slicer.Slice(Image, index);
        float min = (float)options.WindowMin, max = (float)options.WindowMax;
        for (int r = 0; r < slice.GetLength(0); r++)
            for (int c = 0; c < slice.GetLength(1); c++)
            {
                float value = slice[r, c];
                // Scaling can overflow stored values that are finite.
                if (!float.IsFinite(value))
                    throw new InvalidDataException($"{source}: voxel value {value} at flat index {Slicer.FlatIndex(index, r, c)} (images must be finite)");
                if (options.ApplyWindow)
                    slice[r, c] = HuWindow.Apply(value, min, max);
            }
        return slice;
    }

    /// <summary>[X, Y, Z] of a 3D volume (or a higher-rank one whose extra sizes are 1); anything else is an error naming the file.</summary>
    public static int[] SpatialShape(int[] shape, string source)
    {
        if (shape.Length < 3 || shape.Skip(3).Any(d => d != 1))
            throw new InvalidDataException($"{source}: image has shape [{string.Join(", ", shape)}] (rank {shape.Length}); a 3D volume is needed");
        return shape[..3];
    }
}
