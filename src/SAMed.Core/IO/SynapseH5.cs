using PureHDF;
using PureHDF.Filters;
using PureHDF.VOL.Native;

namespace SAMed.IO;

/// <summary>One test volume as SAMed stores it: float32 image and label, both [D, H, W] (a colour image [D, H, W, 3]).</summary>
public sealed record VolumeArrays(NpyArray Image, NpyArray Label);

/// <summary>
/// Reads and writes SAMed's test volumes (test_vol_h5/NAME.npy.h5): an HDF5 file with datasets "image" and "label"
/// of the same [slices, height, width] shape, as preprocess_data.py writes them with h5py. A colour image (from 2D
/// RGB images) is [slices, height, width, 3], channels last, beside its [slices, height, width] label.
/// </summary>
public static class SynapseH5
{
    public const string ImageKey = "image";
    public const string LabelKey = "label";

    /// <summary>
    /// Reads both datasets (contiguous or chunked, plain or gzip; float32, float64 or integer values) as float32, through
    /// <see cref="SynapseH5Reader"/>. A missing, truncated or damaged file is an error naming it.
    /// </summary>
    public static VolumeArrays Read(string path)
    {
        using var reader = SynapseH5Reader.Open(path);
        return new VolumeArrays(ReadDataset(reader, ImageKey), ReadDataset(reader, LabelKey));
    }

    /// <summary>
    /// Writes "image" and "label" as float32 datasets, contiguous like h5py's default or, with <paramref name="compress"/>,
    /// chunked per slice and gzip-compressed; through a temporary file and a rename.
    /// </summary>
    public static void Write(string path, VolumeArrays volume, bool compress = false)
    {
        var (image, label) = volume;
        if (ShapeProblem(image.Shape, label.Shape) is { } problem)
            throw new ArgumentException($"{path}: {problem}");
        var file = new H5File
        {
            [ImageKey] = CreateDataset(image, compress),
            [LabelKey] = CreateDataset(label, compress),
        };
        AtomicFile.WriteVia(path, temp => file.Write(temp));
    }

    private static H5Dataset CreateDataset(NpyArray array, bool compress)
    {
        ulong[] dims = array.Shape.Select(d => (ulong)d).ToArray();
        if (!compress)
            return new H5Dataset(array.ToFloat(), fileDims: dims);
        uint[] chunks = [1, .. array.Shape.Skip(1).Select(d => (uint)d)];
        var creation = new H5DatasetCreation(Filters: [new H5Filter(DeflateFilter.Id, new() { [DeflateFilter.COMPRESSION_LEVEL] = 1 })]);
        return new H5Dataset(array.ToFloat(), chunks: chunks, fileDims: dims, datasetCreation: creation);
    }

    /// <summary>Why an image/label shape pair is not a volume: image [D, H, W] or [D, H, W, 3], label [D, H, W].</summary>
    internal static string? ShapeProblem(long[] image, long[] label)
    {
        if (image.Length == 4 && image[3] == 3)
        {
            return label.SequenceEqual(image[..3])
                ? null
                : $"colour '{ImageKey}' shape {Show(image)} does not match '{LabelKey}' shape {Show(label)} (want [slices, height, width])";
        }
        if (image.Length != 3)
            return $"'{ImageKey}' must be 3D [slices, height, width] (or [slices, height, width, 3] for colour), got shape {Show(image)}";
        return image.SequenceEqual(label) ? null : $"'{ImageKey}' shape {Show(image)} differs from '{LabelKey}' shape {Show(label)}";
    }

    internal static string Show(long[] shape) => $"[{string.Join(", ", shape)}]";

    private static NpyArray ReadDataset(SynapseH5Reader reader, string key)
    {
        var values = new float[reader.Length(key)];
        reader.Read(key, 0, values);
        return NpyArray.FromFloat32(values, reader.Shape(key));
    }
}
