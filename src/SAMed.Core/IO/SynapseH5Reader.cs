using System.Runtime.InteropServices;
using PureHDF;
using PureHDF.Selections;
using PureHDF.VOL.Native;

namespace SAMed.IO;

/// <summary>
/// A SAMed test volume file (see <see cref="SynapseH5"/>) opened for reading into arrays the caller allocates. Opening
/// finds both datasets and checks their types and shapes; <see cref="Read"/> then converts slices of a dataset to float32
/// straight into the caller's span: float32 data is read in place (PureHDF's <c>NativeDataset.Read(Span)</c>), other
/// types through a buffer of a few slices allocated when the file is opened.
/// <para>
/// Contiguous datasets (h5py's default, prepare's without compression) are read by PureHDF 2.2 with a few kilobytes of
/// allocation a call, so a reader on another thread allocates nothing large. Chunked datasets are not: PureHDF decodes
/// every chunk into a new array (the deflate filter's output, or a copy of an unfiltered chunk), as many bytes in all as
/// the data read, whatever hyperslab the chunks are read in (measured, docs/performance.md "Reading h5 test volumes
/// ahead"). <see cref="AllocatesAsItReads"/> says which.
/// </para>
/// </summary>
public sealed class SynapseH5Reader : IDisposable
{
    /// <summary>Values converted a PureHDF call for datasets not stored as float32 (whole slices, at least one).</summary>
    private const int SlabValues = 1 << 20;

    private readonly NativeFile file;
    private readonly Dataset image;
    private readonly Dataset label;
    private readonly byte[] slab;

    private SynapseH5Reader(string path, NativeFile file, Dataset image, Dataset label)
    {
        Path = path;
        this.file = file;
        this.image = image;
        this.label = label;
        long sliceValues = Math.Max(image.SliceLength, label.SliceLength);
        SlabSlices = (int)Math.Clamp(SlabValues / Math.Max(sliceValues, 1), 1, Math.Max(image.Shape[0], 1));
        int itemSize = Math.Max(image.ConvertedItemSize, label.ConvertedItemSize);
        slab = new byte[itemSize * SlabSlices * sliceValues];
    }

    public string Path { get; }

    /// <summary>
    /// True if a dataset is chunked: PureHDF 2.2 then allocates as many bytes as it reads, so the file must not be read on
    /// another thread while a forward pass holds off the collector (see <see cref="FilePipeline"/>).
    /// </summary>
    public bool AllocatesAsItReads => !image.ReadsInPlace || !label.ReadsInPlace;

    /// <summary>Slices a call converts for datasets not stored as float32; a caller reading slab by slab can use it too.</summary>
    public int SlabSlices { get; }

    /// <summary>
    /// Opens <paramref name="path"/> and checks it: datasets "image" and "label" of float32, float64 or integer values,
    /// image [D, H, W] or [D, H, W, 3] and label [D, H, W]. Any problem is an error naming the file.
    /// </summary>
    public static SynapseH5Reader Open(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        NativeFile? file = null;
        try
        {
            file = H5File.OpenRead(path);
            var image = Dataset.Find(file, path, SynapseH5.ImageKey);
            var label = Dataset.Find(file, path, SynapseH5.LabelKey);
            if (SynapseH5.ShapeProblem(image.Shape, label.Shape) is { } problem)
                throw new InvalidDataException($"{path}: {problem}");
            return new SynapseH5Reader(path, file, image, label);
        }
        catch (Exception e)
        {
            file?.Dispose();
            if (Names(path, e))
                throw;
            throw Unreadable(path, e);
        }
    }

    /// <summary>The shape of dataset <paramref name="key"/> ("image" or "label").</summary>
    public long[] Shape(string key) => Of(key).Shape;

    /// <summary>The number of values of dataset <paramref name="key"/>.</summary>
    public long Length(string key) => Of(key).Length;

    /// <summary>
    /// Reads slices [<paramref name="firstSlice"/>, firstSlice + n) of dataset <paramref name="key"/> into
    /// <paramref name="destination"/> (n whole slices, C order) as float32: float32 as stored, other types converted as
    /// a cast to float converts them. A read failure (truncated or damaged data) is an error naming the file.
    /// </summary>
    public void Read(string key, int firstSlice, Span<float> destination)
    {
        var dataset = Of(key);
        if (destination.IsEmpty)
            return;
        long sliceLength = dataset.SliceLength;
        if (sliceLength == 0 || destination.Length % sliceLength != 0 || firstSlice < 0 || firstSlice + destination.Length / sliceLength > dataset.Shape[0])
            throw new ArgumentException($"{Path}: {destination.Length} values from slice {firstSlice} are not whole slices of '{key}' {SynapseH5.Show(dataset.Shape)}");
        int slices = (int)(destination.Length / sliceLength);
        try
        {
            switch (dataset.Element)
            {
                case Element.Float32:
                    dataset.Data.Read(dataset.Access, destination, dataset.Slices(firstSlice, slices));
                    break;
                case Element.Float64: Convert<double>(dataset, firstSlice, destination); break;
                case Element.UInt8: Convert<byte>(dataset, firstSlice, destination); break;
                case Element.Int8: Convert<sbyte>(dataset, firstSlice, destination); break;
                case Element.UInt16: Convert<ushort>(dataset, firstSlice, destination); break;
                case Element.Int16: Convert<short>(dataset, firstSlice, destination); break;
                case Element.UInt32: Convert<uint>(dataset, firstSlice, destination); break;
                case Element.Int32: Convert<int>(dataset, firstSlice, destination); break;
                case Element.UInt64: Convert<ulong>(dataset, firstSlice, destination); break;
                default: Convert<long>(dataset, firstSlice, destination); break;
            }
        }
        catch (Exception e) when (!Names(Path, e))
        {
            throw Unreadable(Path, e);
        }
    }

    public void Dispose() => file.Dispose();

    /// <summary>Reads slab by slab into the buffer of the stored type, then casts each value to float.</summary>
    private void Convert<T>(Dataset dataset, int firstSlice, Span<float> destination)
        where T : unmanaged, System.Numerics.INumberBase<T>
    {
        var buffer = MemoryMarshal.Cast<byte, T>(slab.AsSpan());
        int sliceLength = (int)dataset.SliceLength;
        for (int done = 0; done < destination.Length; done += SlabSlices * sliceLength)
        {
            int count = Math.Min(SlabSlices * sliceLength, destination.Length - done);
            var values = buffer[..count];
            dataset.Data.Read(dataset.Access, values, dataset.Slices(firstSlice + done / sliceLength, count / sliceLength));
            var target = destination.Slice(done, count);
            for (int i = 0; i < count; i++)
                target[i] = float.CreateTruncating(values[i]);
        }
    }

    private Dataset Of(string key) => key switch
    {
        SynapseH5.ImageKey => image,
        SynapseH5.LabelKey => label,
        _ => throw new ArgumentException($"{Path}: a SAMed test volume holds '{SynapseH5.ImageKey}' and '{SynapseH5.LabelKey}', not '{key}'", nameof(key)),
    };

    private static bool Names(string path, Exception e) => e.Message.StartsWith(path, StringComparison.Ordinal);

    /// <summary>An error of PureHDF's (or of the file system) as one line naming the file, the cause in parentheses.</summary>
    private static InvalidDataException Unreadable(string path, Exception e) =>
        new($"{path}: not a readable HDF5 volume; truncated, damaged or not HDF5 ({e.Message})", e);

    private enum Element
    {
        Float32,
        Float64,
        UInt8,
        Int8,
        UInt16,
        Int16,
        UInt32,
        Int32,
        UInt64,
        Int64,
    }

    /// <summary>
    /// One dataset of the file: its PureHDF handle, shape, stored element type and access properties. A chunked dataset
    /// keeps its own chunk cache across reads, large enough for two layers of chunks (the chunks holding the same
    /// slices): PureHDF's default cache (1 MB, one a read call) let chunks of several slices be decoded once per slice,
    /// 15-22 times slower for 8 x 64 x 64 chunks of a 40 x 512 x 512 float32 dataset (2026-12-03).
    /// </summary>
    private sealed record Dataset(NativeDataset Data, long[] Shape, Element Element, H5DatasetAccess Access)
    {
        public long Length => Shape.Aggregate(1L, (a, b) => a * b);

        /// <summary>Values a slice (the product of the dimensions after the first); 1 for a 1D dataset.</summary>
        public long SliceLength => Shape.Skip(1).Aggregate(1L, (a, b) => a * b);

        /// <summary>Contiguous and compact storage is read without allocating as much as it reads (see the class summary).</summary>
        public bool ReadsInPlace => Data.Layout.Class is H5DataLayoutClass.Contiguous or H5DataLayoutClass.Compact;

        /// <summary>Bytes a value in the conversion buffer (0 for float32, read in place).</summary>
        public int ConvertedItemSize => Element switch
        {
            Element.Float32 => 0,
            Element.Float64 or Element.UInt64 or Element.Int64 => 8,
            Element.UInt32 or Element.Int32 => 4,
            Element.UInt16 or Element.Int16 => 2,
            _ => 1,
        };

        public static Dataset Find(NativeFile file, string path, string key)
        {
            if (!file.LinkExists(key))
            {
                string present = string.Join(", ", file.Children().Select(child => child.Name));
                throw new InvalidDataException($"{path}: no '{key}' dataset (it has: {(present.Length == 0 ? "nothing" : present)})");
            }
            if (file.Get(key) is not NativeDataset dataset)
                throw new InvalidDataException($"{path}: '{key}' is not a dataset");
            long[] shape = dataset.Space.Dimensions.Select(d => checked((long)d)).ToArray();
            var type = dataset.Type;
            var element = (type.Class, type.Size) switch
            {
                (H5DataTypeClass.FloatingPoint, 4) => Element.Float32,
                (H5DataTypeClass.FloatingPoint, 8) => Element.Float64,
                (H5DataTypeClass.FixedPoint, 1) => type.FixedPoint.IsSigned ? Element.Int8 : Element.UInt8,
                (H5DataTypeClass.FixedPoint, 2) => type.FixedPoint.IsSigned ? Element.Int16 : Element.UInt16,
                (H5DataTypeClass.FixedPoint, 4) => type.FixedPoint.IsSigned ? Element.Int32 : Element.UInt32,
                (H5DataTypeClass.FixedPoint, 8) => type.FixedPoint.IsSigned ? Element.Int64 : Element.UInt64,
                _ => throw new InvalidDataException($"{path}: '{key}' has unsupported HDF5 type {type.Class} of {type.Size} bytes"),
            };
            long length = shape.Aggregate(1L, (a, b) => a * b);
            if (length > Array.MaxLength)
                throw new InvalidDataException($"{path}: '{key}' {SynapseH5.Show(shape)} holds {length} values, too many to load");
            return new Dataset(dataset, shape, element, AccessTo(dataset, shape, type.Size));
        }

        private static H5DatasetAccess AccessTo(NativeDataset dataset, long[] shape, int itemSize)
        {
            if (dataset.Layout.Class != H5DataLayoutClass.Chunked || shape.Length == 0)
                return default;
            ulong[] chunks = dataset.Layout.Chunks;
            if (chunks.Length != shape.Length)
                return default;
            long layerChunks = 1;
            long chunkBytes = itemSize;
            for (int d = 0; d < shape.Length; d++)
            {
                long chunk = Math.Max((long)chunks[d], 1);
                chunkBytes *= chunk;
                if (d > 0)
                    layerChunks *= (shape[d] + chunk - 1) / chunk;
            }
            int slots = (int)Math.Min(2 * layerChunks + 1, int.MaxValue);
            return new H5DatasetAccess(ChunkCache: new SimpleReadingChunkCache(slots, (ulong)(2 * layerChunks * chunkBytes)));
        }

        /// <summary>The file selection of slices [first, first + count): none (the whole dataset, read in one piece) when that is all of it.</summary>
        public Selection? Slices(int first, int count)
        {
            if (first == 0 && count == Shape[0])
                return null;
            ulong[] starts = new ulong[Shape.Length];
            starts[0] = (ulong)first;
            ulong[] blocks = [(ulong)count, .. Shape.Skip(1).Select(d => (ulong)d)];
            return new HyperslabSelection(Shape.Length, starts, blocks);
        }
    }
}
