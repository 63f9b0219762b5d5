using System.IO.Compression;

namespace SAMed.IO;

/// <summary>Reads and writes NumPy .npz archives (a zip of .npy members, as numpy.savez writes them).</summary>
public static class Npz
{
    public static IReadOnlyDictionary<string, NpyArray> Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var arrays = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
            foreach (var entry in zip.Entries)
            {
                string name = entry.FullName.EndsWith(".npy", StringComparison.Ordinal) ? entry.FullName[..^4] : entry.FullName;
                using var stream = entry.Open();
                arrays[name] = Npy.Read(stream, $"{path}[{entry.FullName}]");
            }
            return arrays;
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: not a readable .npz archive ({e.Message})", e);
        }
    }

    /// <summary>Reads the named members and fails, naming the file, when one is missing.</summary>
    public static NpyArray[] Read(string path, params string[] required)
    {
        var arrays = Read(path);
        return required.Select(key => arrays.TryGetValue(key, out var array)
            ? array
            : throw new InvalidDataException($"{path}: .npz has no '{key}' array (it has: {string.Join(", ", arrays.Keys)})")).ToArray();
    }

    /// <summary>Writes uncompressed members like numpy.savez, through a temporary file and a rename.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, NpyArray>> arrays, bool compress = false)
    {
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            foreach (var (name, array) in arrays)
            {
                var entry = zip.CreateEntry(name + ".npy", compress ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
                using var entryStream = entry.Open();
                Npy.Write(entryStream, array);
            }
        });
    }
}
