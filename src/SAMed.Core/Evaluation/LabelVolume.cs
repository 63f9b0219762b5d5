using SAMed.IO;

namespace SAMed.Evaluation;

/// <summary>
/// A label map in C order with its shape, and, when the file has them, the voxel spacing (same axis order as the
/// shape) and the 4x4 voxel-to-world affine. NIfTI data (x fastest) becomes shape [Z, Y, X] with spacing
/// [dz, dy, dx]; .npy and SAMed .h5 volumes keep their stored axis order and have no spacing. A 2D label image (grey
/// PNG, TIFF or BMP whose pixel values are the labels, as predict writes them) is one slice, shape [1, H, W], like
/// the test volume prepare makes from a 2D image.
/// </summary>
public sealed record LabelVolume(string Source, int[] Shape, int[] Labels, double[]? Spacing, double[,]? Affine)
{
    /// <summary>The file-name endings <see cref="Read"/> understands, longest first.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".nii.gz", ".npy.h5", ".nii", ".npy", ".h5", ".png", ".tiff", ".tif", ".bmp"];

    /// <summary>Reads .nii / .nii.gz (NIfTI-1), .npy, .h5 (the "label" dataset of a SAMed test volume) or a grey label image.</summary>
    public static LabelVolume Read(string path)
    {
        string name = Path.GetFileName(path).ToLowerInvariant();
        if (ImageFile.IsImage(path))
        {
            var image = ImageFile.Read(path);
            if (image.Channels != 1)
                throw new InvalidDataException($"{path}: a colour image is not a label map (label images are grey, pixel value = class id)");
            return FromValues(path, [1, image.Height, image.Width], [.. image.Samples.Select(v => (double)v)], null, null);
        }
        if (name.EndsWith(".nii", StringComparison.Ordinal) || name.EndsWith(".nii.gz", StringComparison.Ordinal))
            return FromNifti(Nifti.Read(path), path);
        if (name.EndsWith(".npy", StringComparison.Ordinal))
        {
            var array = Npy.Read(path);
            return FromValues(path, array.Shape, array.ToDouble(), null, null);
        }

        if (name.EndsWith(".h5", StringComparison.Ordinal))
        {
            var label = SynapseH5.Read(path).Label;
            return FromValues(path, label.Shape, label.ToDouble(), null, null);
        }

        throw new ArgumentException($"{path}: unsupported label file; expected one of {string.Join(", ", Extensions)}");
    }

    /// <summary>The label map of a NIfTI image; trailing singleton axes beyond the third are dropped.</summary>
    public static LabelVolume FromNifti(NiftiImage image, string source)
    {
        var stored = image.Shape;
        int rank = stored.Length;
        while (rank > 3 && stored[rank - 1] == 1)
            rank--;
        if (rank > 3)
            throw new InvalidDataException($"{source}: label maps must be 2D or 3D, this image has shape [{string.Join(", ", stored)}]");
        var sizes = image.VoxelSizes;
        var shape = Enumerable.Range(0, rank).Select(axis => stored[rank - 1 - axis]).ToArray();
        var spacing = Enumerable.Range(0, rank).Select(axis => (double)sizes[rank - 1 - axis]).ToArray();
        return FromValues(source, shape.Select(d => (long)d).ToArray(), image.ToDouble(), spacing, image.Affine);
    }

    /// <summary>A label map from values that must be non-negative integers; unusable spacing becomes null.</summary>
    public static LabelVolume FromValues(string source, long[] shape, double[] values, double[]? spacing, double[,]? affine)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != values.Length)
            throw new InvalidDataException($"{source}: {values.Length} values for shape [{string.Join(", ", shape)}]");
        var labels = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            double v = values[i];
            if (!(v >= 0 && v <= int.MaxValue) || v != Math.Floor(v))
                throw new InvalidDataException($"{source}: voxel {i} holds {v}, which is not a label (a non-negative integer)");
            labels[i] = (int)v;
        }

        // A header without usable voxel sizes (pixdim 0) leaves the spacing unknown.
        if (spacing is not null && spacing.Any(s => !double.IsFinite(s) || s <= 0))
            spacing = null;
        return new LabelVolume(source, shape.Select(d => checked((int)d)).ToArray(), labels, spacing, affine);
    }
}
