using PureHDF;
using PureHDF.Filters;
using PureHDF.VOL.Native;

namespace SAMed.IO;

/// <summary>One test volume as SAMed stores it: float32 image and label, both [D, H, W].</summary>
public sealed record VolumeArrays(NpyArray Image, NpyArray Label);

/// <summary>
/// Reads and writes SAMed's test volumes (test_vol_h5/NAME.npy.h5): an HDF5 file with datasets "image" and "label"
/// of the same [slices, height, width] shape, as preprocess_data.py writes them with h5py.
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
            if (image.Shape.Length != 3)
                throw new InvalidDataException($"{path}: '{ImageKey}' must be 3D [slices, height, width], got shape [{string.Join(", ", image.Shape)}]");
            if (!image.Shape.SequenceEqual(label.Shape))
                throw new InvalidDataException(
                    $"{path}: '{ImageKey}' shape [{string.Join(", ", image.Shape)}] differs from '{LabelKey}' shape [{string.Join(", ", label.Shape)}]");
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
        if (image.Shape.Length != 3)
            throw new ArgumentException($"{path}: image must be 3D [slices, height, width], got shape [{string.Join(", ", image.Shape)}]");
        if (!image.Shape.SequenceEqual(label.Shape))
            throw new ArgumentException(
                $"{path}: image shape [{string.Join(", ", image.Shape)}] differs from label shape [{string.Join(", ", label.Shape)}]");
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
        uint[] chunks = [1, (uint)array.Shape[1], (uint)array.Shape[2]];
        var creation = new H5DatasetCreation(Filters: [new H5Filter(DeflateFilter.Id, new() { [DeflateFilter.COMPRESSION_LEVEL] = 1 })]);
        return new H5Dataset(array.ToFloat(), chunks: chunks, fileDims: dims, datasetCreation: creation);
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
