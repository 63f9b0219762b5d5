using System.IO.Compression;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Checkpoints;

/// <summary>
/// Reads and writes flat state dicts (name -> tensor) in PyTorch's zip format, as torch.save writes them and
/// torch.load reads them. Tensors pickled as nn.Parameter (torch._utils._rebuild_parameter, as SAMed's LoRA
/// files are) are read as plain tensors. Every tensor comes back as an independent contiguous CPU tensor.
/// </summary>
public static class PthStateDict
{
    /// <summary>Reads every tensor of a state dict saved with torch.save, in file order.</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: checkpoint file not found", path);

        using var stream = File.OpenRead(path);
        var signature = new byte[4];
        if (stream.Read(signature, 0, 4) < 4 || signature[0] != 0x50 || signature[1] != 0x4b)
        {
            throw new InvalidDataException(
                $"{path}: not a PyTorch zip checkpoint (too short, or the legacy pre-1.6 torch.save format; re-save it with a current torch.save)");
        }
        stream.Position = 0;

        ZipArchive archive;
        try
        {
            archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: truncated or corrupt checkpoint (the zip directory cannot be read: {e.Message})", e);
        }

        using (archive)
        {
            try
            {
                return new PickleReader(archive, path).ReadStateDict();
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException && e is not FileNotFoundException)
            {
                if (e.Message.StartsWith(path, StringComparison.Ordinal))
                    throw;
                throw new InvalidDataException($"{path}: truncated or corrupt checkpoint ({e.Message})", e);
            }
        }
    }

    /// <summary>
    /// Writes tensors as a dict that torch.load reads back (plain tensors, requires_grad false, CPU, contiguous).
    /// Writes to a temporary file beside <paramref name="path"/> and then moves it into place.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? ".";
        Directory.CreateDirectory(directory);
        string temp = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite))
                PickleWriter.Write(stream, ArchiveName(fullPath), tensors);
            File.Move(temp, fullPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }

    // torch.save names the archive's top folder after the file; torch.load accepts any single top folder.
    private static string ArchiveName(string path)
    {
        string stem = Path.GetFileNameWithoutExtension(path);
        var builder = new StringBuilder();
        foreach (char c in stem)
            builder.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        return builder.Length == 0 ? "archive" : builder.ToString();
    }

    internal static ScalarType DtypeOfStorage(string storageName) => storageName switch
    {
        "FloatStorage" => ScalarType.Float32,
        "DoubleStorage" => ScalarType.Float64,
        "HalfStorage" => ScalarType.Float16,
        "BFloat16Storage" => ScalarType.BFloat16,
        "LongStorage" => ScalarType.Int64,
        "IntStorage" => ScalarType.Int32,
        "ShortStorage" => ScalarType.Int16,
        "CharStorage" => ScalarType.Int8,
        "ByteStorage" => ScalarType.Byte,
        "BoolStorage" => ScalarType.Bool,
        _ => throw new InvalidDataException($"unsupported tensor storage type torch.{storageName}"),
    };

    internal static string StorageOfDtype(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "FloatStorage",
        ScalarType.Float64 => "DoubleStorage",
        ScalarType.Float16 => "HalfStorage",
        ScalarType.BFloat16 => "BFloat16Storage",
        ScalarType.Int64 => "LongStorage",
        ScalarType.Int32 => "IntStorage",
        ScalarType.Int16 => "ShortStorage",
        ScalarType.Int8 => "CharStorage",
        ScalarType.Byte => "ByteStorage",
        ScalarType.Bool => "BoolStorage",
        _ => throw new NotSupportedException($"cannot save tensors of type {dtype}"),
    };

    internal static int ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };
}
