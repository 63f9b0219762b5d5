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

    /// <summary>Reads both datasets (contiguous or chunked, plain or gzip) and converts them to float32.</summary>
    public static VolumeArrays Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        try
        {
            using var file = H5File.OpenRead(path);
            var image = ReadDataset(file, path, ImageKey);
            var label = ReadDataset(file, path, LabelKey);
            if (ShapeProblem(image.Shape, label.Shape) is { } problem)
                throw new InvalidDataException($"{path}: {problem}");
            return new VolumeArrays(image, label);
        }
        catch (Exception e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: not a readable HDF5 volume; truncated, damaged or not HDF5 ({e.Message})", e);
        }
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
    private static string? ShapeProblem(long[] image, long[] label)
    {
        string Show(long[] shape) => $"[{string.Join(", ", shape)}]";
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

    private static NpyArray ReadDataset(NativeFile file, string path, string key)
    {
        if (!file.LinkExists(key))
        {
            string present = string.Join(", ", file.Children().Select(child => child.Name));
            throw new InvalidDataException($"{path}: no '{key}' dataset (it has: {(present.Length == 0 ? "nothing" : present)})");
        }
        if (file.Get(key) is not IH5Dataset dataset)
            throw new InvalidDataException($"{path}: '{key}' is not a dataset");
        long[] shape = dataset.Space.Dimensions.Select(d => checked((long)d)).ToArray();
        var type = dataset.Type;
        float[] values = (type.Class, type.Size) switch
        {
            (H5DataTypeClass.FloatingPoint, 4) => dataset.Read<float[]>(),
            (H5DataTypeClass.FloatingPoint, 8) => Array.ConvertAll(dataset.Read<double[]>(), v => (float)v),
            (H5DataTypeClass.FixedPoint, _) => ReadIntegers(dataset, type.Size, type.FixedPoint.IsSigned),
            _ => throw new InvalidDataException($"{path}: '{key}' has unsupported HDF5 type {type.Class} of {type.Size} bytes"),
        };
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (values.Length != count)
            throw new InvalidDataException($"{path}: '{key}' holds {values.Length} values, its shape [{string.Join(", ", shape)}] needs {count}");
        return NpyArray.FromFloat32(values, shape);
    }

    private static float[] ReadIntegers(IH5Dataset dataset, int size, bool signed) => (size, signed) switch
    {
        (1, false) => Array.ConvertAll(dataset.Read<byte[]>(), v => (float)v),
        (1, true) => Array.ConvertAll(dataset.Read<sbyte[]>(), v => (float)v),
        (2, false) => Array.ConvertAll(dataset.Read<ushort[]>(), v => (float)v),
        (2, true) => Array.ConvertAll(dataset.Read<short[]>(), v => (float)v),
        (4, false) => Array.ConvertAll(dataset.Read<uint[]>(), v => (float)v),
        (4, true) => Array.ConvertAll(dataset.Read<int[]>(), v => (float)v),
        (8, false) => Array.ConvertAll(dataset.Read<ulong[]>(), v => (float)v),
        _ => Array.ConvertAll(dataset.Read<long[]>(), v => (float)v),
    };
}
