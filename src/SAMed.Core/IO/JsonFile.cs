using System.Text.Json;

namespace SAMed.IO;

/// <summary>Small JSON files users write (label maps, mask colours, prompts), read with errors that name the file.</summary>
public static class JsonFile
{
    /// <summary>
    /// The parsed document of <paramref name="path"/>; a missing file is "PATH: WHAT not found", bad JSON
    /// "PATH: WHAT is not valid JSON (the parser's message)".
    /// </summary>
    public static JsonDocument Read(string path, string what)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: {what} not found", path);
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {what} is not valid JSON ({e.Message})", e);
        }
    }
}
