using System.Buffers.Binary;
using System.IO.Compression;

namespace SAMed.IO;

/// <summary>
/// A single-file NIfTI-1 image (.nii, or gzip-compressed .nii.gz, recognised by its magic bytes) opened for reading:
/// the header is parsed at once, the voxel data is then decompressed straight into one array of the stored type
/// (no copy of the whole file or of the decompressed stream is held). The array can be allocated by the caller, so
/// that a reader on another thread allocates nothing large.
/// </summary>
public sealed class NiftiReader : IDisposable
{
    private const int GzipBufferSize = 1 << 20;

    private readonly FileStream file;
    private readonly Stream stream;
    private readonly bool bigEndian;
    private readonly uint? gzipLength;
    private long decompressed;

    private NiftiReader(string path, FileStream file, Stream stream, uint? gzipLength)
    {
        Path = path;
        this.file = file;
        this.stream = stream;
        this.gzipLength = gzipLength;
        var bytes = new byte[NiftiHeader.Size];
        int read = Fill(bytes);
        Header = NiftiHeader.Parse(bytes.AsSpan(0, read), path, out bigEndian);
        DataType = (NiftiDataType)Header.DataType;
        DataLength = NiftiImage.VoxelCountOf(Header.Shape) * DataType.ItemSize();
        if (DataLength > Array.MaxLength)
            throw new InvalidDataException($"{path}: {DataLength} bytes of voxel data are too many to load");
    }

    public string Path { get; }

    public NiftiHeader Header { get; }

    public NiftiDataType DataType { get; }

    /// <summary>Bytes of voxel data (voxel count times the stored item size).</summary>
    public long DataLength { get; }

    public bool IsGzip => gzipLength is not null;

    /// <summary>Opens <paramref name="path"/> and reads its header; a missing file or bad header is an error naming the file.</summary>
    public static NiftiReader Open(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        try
        {
            var magic = new byte[2];
            int got = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            file.Position = 0;
            if (got < 2 || magic[0] != 0x1f || magic[1] != 0x8b)
                return new NiftiReader(path, file, new BufferedStream(file, 1 << 16), null);
            if (file.Length < 18)
                throw new InvalidDataException($"{path}: truncated gzip file ({file.Length} bytes)");
            // The trailer's ISIZE (uncompressed length mod 2^32) catches a cut stream, which can decode without error up to the cut.
            var trailer = new byte[4];
            file.Position = file.Length - 4;
            file.ReadExactly(trailer);
            file.Position = 0;
            var gzip = new GZipStream(new BufferedStream(file, GzipBufferSize), CompressionMode.Decompress);
            return new NiftiReader(path, file, gzip, BinaryPrimitives.ReadUInt32LittleEndian(trailer));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens the file and allocates its voxel array on the calling thread (so that the reading thread allocates
    /// nothing large while a forward pass on the caller's thread holds off the garbage collector, see GcPause), then
    /// decompresses it on the thread pool. Errors, including opening errors, surface when the task is awaited.
    /// </summary>
    public static Task<NiftiImage> ReadInBackground(string path)
    {
        NiftiReader reader;
        byte[] data;
        try
        {
            reader = Open(path);
            data = new byte[reader.DataLength];
        }
        catch (Exception e)
        {
            return Task.FromException<NiftiImage>(e);
        }
        return Task.Run(() =>
        {
            using (reader)
                return reader.ReadImage(data);
        });
    }

    /// <summary>
    /// Reads the voxel data into <paramref name="data"/> (exactly <see cref="DataLength"/> bytes, made little-endian)
    /// and returns the image over it. For gzip files the rest of the stream is decompressed too and its length
    /// checked against the trailer.
    /// </summary>
    public NiftiImage ReadImage(byte[]? data = null)
    {
        data ??= new byte[DataLength];
        if (data.LongLength != DataLength)
            throw new ArgumentException($"{Path}: the voxel data needs a {DataLength}-byte array, not {data.LongLength}", nameof(data));
        Skip((long)Header.VoxOffset - NiftiHeader.Size);
        int read = Fill(data);
        if (read < data.Length)
        {
            if (IsGzip)
                throw TruncatedGzip($"decompressed {decompressed} bytes, the header needs {(long)Header.VoxOffset + DataLength}");
            throw new InvalidDataException($"{Path}: data shorter than the header says: {read} of {DataLength} bytes "
                + $"for shape [{string.Join(", ", Header.Shape)}] of {DataType} at offset {(long)Header.VoxOffset} (truncated file?)");
        }
        if (IsGzip)
        {
            Skip(long.MaxValue);
            if ((uint)decompressed != gzipLength)
                throw TruncatedGzip($"decompressed {decompressed} bytes, the gzip trailer says {gzipLength}");
        }
        int itemSize = DataType.ItemSize();
        if (bigEndian && itemSize > 1)
            for (int i = 0; i < data.Length; i += itemSize)
                data.AsSpan(i, itemSize).Reverse();
        return new NiftiImage(Header, data, Path);
    }

    public void Dispose()
    {
        stream.Dispose();
        file.Dispose();
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the data ends; returns the bytes read.</summary>
    private int Fill(Span<byte> buffer)
    {
        int total = 0;
        try
        {
            while (total < buffer.Length)
            {
                int n = stream.Read(buffer[total..]);
                if (n == 0)
                    break;
                total += n;
            }
        }
        catch (InvalidDataException e) when (IsGzip)
        {
            throw TruncatedGzip(e.Message, e);
        }
        decompressed += total;
        return total;
    }

    /// <summary>Reads and drops up to <paramref name="count"/> bytes (header extensions, or the rest of a gzip stream).</summary>
    private void Skip(long count)
    {
        var buffer = new byte[64 << 10];
        while (count > 0)
        {
            int read = Fill(buffer.AsSpan(0, (int)Math.Min(buffer.Length, count)));
            if (read == 0)
                return;
            count -= read;
        }
    }

    private InvalidDataException TruncatedGzip(string detail, Exception? inner = null) =>
        new($"{Path}: truncated or corrupt gzip data ({detail})", inner);
}
