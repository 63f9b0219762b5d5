using System.Text;

namespace SAMed.IO;

/// <summary>
/// The one way files are written: into a hidden temporary file beside the target, then renamed over it. A failure
/// half-way (bad input, a full disk, an interruption) leaves whatever was at the path before, and no temporary
/// file behind.
/// </summary>
public static class AtomicFile
{
    /// <summary>Creates the folder, lets <paramref name="write"/> fill a temporary file through a stream, then renames it into place.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string temp = Prepare(path, out string fullPath);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite))
                write(stream);
            File.Move(temp, fullPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }

    /// <summary>Like <see cref="Write(string, Action{Stream})"/> for writers that take a path (libraries that open the file themselves).</summary>
    public static void WriteVia(string path, Action<string> writeTo)
    {
        string temp = Prepare(path, out string fullPath);
        try
        {
            writeTo(temp);
            File.Move(temp, fullPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }

    /// <summary>Writes text as UTF-8 without a byte-order mark.</summary>
    public static void WriteText(string path, string text) =>
        Write(path, stream =>
        {
            var bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text);
            stream.Write(bytes);
        });

    /// <summary>Writes text through a <see cref="TextWriter"/> (UTF-8, no byte-order mark).</summary>
    public static void WriteText(string path, Action<TextWriter> write) =>
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), leaveOpen: true);
            write(writer);
        });

    private static string Prepare(string path, out string fullPath)
    {
        fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? ".";
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
    }
}
