using System.IO.Compression;

namespace SAMed.IO;

/// <summary>Reads and writes single-file NIfTI-1 images (.nii, and .nii.gz through gzip).</summary>
public static class Nifti
{
    /// <summary>
    /// Reads a .nii or .nii.gz file (gzip is recognised by its magic bytes), in either byte order. The voxel data is
    /// decompressed straight into the image's array (see <see cref="NiftiReader"/>).
    /// </summary>
    public static NiftiImage Read(string path)
    {
        using var reader = NiftiReader.Open(path);
        return reader.ReadImage();
    }

    /// <summary>Reads only the header (decompressing just its bytes), e.g. to check many files quickly.</summary>
    public static NiftiHeader ReadHeader(string path)
    {
        using var reader = NiftiReader.Open(path);
        return reader.Header;
    }

    /// <summary>
    /// Writes the image little-endian with its header (geometry, codes, units, scaling) and no extensions;
    /// gzip-compressed when the path ends in .gz. Written through <see cref="AtomicFile"/>: a failure half-way leaves
    /// no partial file under <paramref name="path"/>.
    /// </summary>
    public static void Write(string path, NiftiImage image) =>
        Write(path, image.Header, stream => stream.Write(image.RawData));

    /// <summary>
    /// Writes an image of <paramref name="shape"/> stored as <paramref name="type"/> on <paramref name="like"/>'s geometry
    /// (the header <see cref="NiftiImage.FromStored"/> gives), its voxel bytes (little-endian, x fastest, no scaling)
    /// produced piece by piece by <paramref name="writeVoxels"/>: the same file as <see cref="Write(string, NiftiImage)"/>
    /// of that image, without holding its voxels at once.
    /// </summary>
    public static void Write(string path, NiftiHeader like, int[] shape, NiftiDataType type, Action<Stream> writeVoxels) =>
        Write(path, NiftiImage.HeaderFor(like, shape, type), writeVoxels);

    private static void Write(string path, NiftiHeader header, Action<Stream> writeVoxels)
    {
        header = header with { VoxOffset = 352, Magic = "n+1" };
        AtomicFile.Write(path, file =>
        {
            if (!path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            {
                WriteTo(file, header, writeVoxels);
                return;
            }
            using var gzip = new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true);
            WriteTo(gzip, header, writeVoxels);
        });
    }

    private static void WriteTo(Stream stream, NiftiHeader header, Action<Stream> writeVoxels)
    {
        stream.Write(header.ToBytes());
        stream.Write(new byte[4]); // extension flag: no extensions
        writeVoxels(stream);
    }
}
