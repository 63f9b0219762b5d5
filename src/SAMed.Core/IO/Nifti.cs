using System.Buffers.Binary;
using System.IO.Compression;

namespace SAMed.IO;

/// <summary>Reads and writes single-file NIfTI-1 images (.nii, and .nii.gz through gzip).</summary>
public static class Nifti
{
    /// <summary>Reads a .nii or .nii.gz file (gzip is recognised by its magic bytes), in either byte order.</summary>
    public static NiftiImage Read(string path)
    {
        var bytes = ReadFileBytes(path);
        var header = NiftiHeader.Parse(bytes, path, out bool bigEndian);
        var dataType = (NiftiDataType)header.DataType;
        int itemSize = dataType.ItemSize();
        long offset = (long)header.VoxOffset;
        long byteCount = NiftiImage.VoxelCountOf(header.Shape) * itemSize;
        if (offset + byteCount > Array.MaxLength)
            throw new InvalidDataException($"{path}: {byteCount} bytes of voxel data are too many to load");
        if (bytes.LongLength < offset + byteCount)
            throw new InvalidDataException($"{path}: data shorter than the header says: {Math.Max(0, bytes.LongLength - offset)} of {byteCount} bytes "
                + $"for shape [{string.Join(", ", header.Shape)}] of {dataType} at offset {offset} (truncated file?)");

        var data = bytes.AsSpan((int)offset, (int)byteCount).ToArray();
        if (bigEndian && itemSize > 1)
            for (int i = 0; i < data.Length; i += itemSize)
                data.AsSpan(i, itemSize).Reverse();
        return new NiftiImage(header, data, path);
    }

    /// <summary>Reads only the header (decompressing just its bytes), e.g. to check many files quickly.</summary>
    public static NiftiHeader ReadHeader(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        using var file = File.OpenRead(path);
        var magic = new byte[2];
        int got = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        using var stream = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b
            ? new GZipStream(file, CompressionMode.Decompress)
            : (Stream)file;
        var bytes = new byte[NiftiHeader.Size];
        int read;
        try
        {
            read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: truncated or corrupt gzip data ({e.Message})", e);
        }
        return NiftiHeader.Parse(bytes.AsSpan(0, read), path, out _);
    }

    /// <summary>
    /// Writes the image little-endian with its header (geometry, codes, units, scaling) and no extensions;
    /// gzip-compressed when the path ends in .gz. Writes a temporary file, then renames it over <paramref name="path"/>.
    /// </summary>
    public static void Write(string path, NiftiImage image)
    {
        var header = image.Header with { VoxOffset = 352, Magic = "n+1" };
        AtomicFile.Write(path, file =>
        {
            Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
                ? new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true)
                : file;
            stream.Write(header.ToBytes());
            stream.Write(new byte[4]); // extension flag: no extensions
            stream.Write(image.RawData);
            if (stream != file)
                stream.Dispose();
        });
    }

    private static byte[] ReadFileBytes(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        var raw = File.ReadAllBytes(path);
        if (raw.Length >= 2 && raw[0] == 0x1f && raw[1] == 0x8b)
            return Gunzip(raw, path);
        return raw;
    }

    private static byte[] Gunzip(byte[] compressed, string path)
    {
        if (compressed.Length < 18)
            throw new InvalidDataException($"{path}: truncated gzip file ({compressed.Length} bytes)");
        using var output = new MemoryStream();
        try
        {
            using var gzip = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
            gzip.CopyTo(output);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: truncated or corrupt gzip data ({e.Message})", e);
        }

        // A cut gzip stream can decode without error up to the cut; the trailer's ISIZE (length mod 2^32) catches it.
        uint expectedLength = BinaryPrimitives.ReadUInt32LittleEndian(compressed.AsSpan(compressed.Length - 4));
        if ((uint)output.Length != expectedLength)
            throw new InvalidDataException(
                $"{path}: truncated or corrupt gzip data (decompressed {output.Length} bytes, the gzip trailer says {expectedLength})");
        return output.ToArray();
    }
}
