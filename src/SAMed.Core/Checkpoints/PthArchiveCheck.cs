using System.IO.Compression;
using System.Text;

namespace SAMed.Checkpoints;

/// <summary>
/// Checks, before PyBridge unpickles it, that a file is a torch.save zip archive that reads back whole: the zip
/// signature, a data.pkl record, little-endian tensors, and every record's full length and CRC-32 (PyBridge reads
/// only the bytes each tensor needs, so a damaged record would otherwise load silently).
/// </summary>
internal static class PthArchiveCheck
{
    public static void Verify(Stream stream, string path)
    {
        Span<byte> signature = stackalloc byte[4];
        if (stream.ReadAtLeast(signature, 4, throwOnEndOfStream: false) < 4 || signature[0] != 0x50 || signature[1] != 0x4b
            || signature[2] != 0x03 || signature[3] != 0x04)
        {
            throw new InvalidDataException(
                $"{path}: not a PyTorch zip checkpoint (too short, or the legacy pre-1.6 torch.save format; re-save it with a current torch.save)");
        }
        stream.Position = 0;

        try
        {
            using var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            if (!archive.Entries.Any(e => e.Name == "data.pkl"))
                throw new InvalidDataException($"{path}: no data.pkl in the zip archive, so it is not a torch.save checkpoint");
            byte[] buffer = [];
            foreach (var entry in archive.Entries)
            {
                if (entry.Length > Array.MaxLength)
                    throw new InvalidDataException($"{path}: record {entry.FullName} is too large ({entry.Length} bytes)");
                if (buffer.Length < entry.Length)
                    buffer = new byte[entry.Length];
                var content = buffer.AsSpan(0, (int)entry.Length);
                using (var data = entry.Open())
                {
                    data.ReadExactly(content);
                    if (data.ReadByte() >= 0)
                        throw new InvalidDataException($"{path}: record {entry.FullName} is longer than its zip header says");
                }
                if (System.IO.Hashing.Crc32.HashToUInt32(content) != entry.Crc32)
                    throw new InvalidDataException($"{path}: record {entry.FullName} is corrupt (its CRC-32 does not match)");
                if (entry.Name == "byteorder" && Encoding.ASCII.GetString(content).Trim() is var order && order != "little")
                    throw new InvalidDataException($"{path}: tensors are stored in '{order}' byte order; only little-endian checkpoints are supported");
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException && !e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: truncated or corrupt checkpoint ({e.Message})", e);
        }
    }
}
