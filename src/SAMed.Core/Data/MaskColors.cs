using System.Globalization;
using System.Text.Json;
using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// Colour masks to class ids: a JSON object whose keys are colours ("#RRGGBB", "RRGGBB" or "R,G,B") and whose
/// values are class ids, e.g. {"#000000": 0, "#ff0000": 1, "0,255,0": 2}. Black is background unless listed.
/// A colour the map does not list is an error naming the mask file, the colour and a pixel that has it.
/// </summary>
public sealed class MaskColors
{
    private readonly Dictionary<int, int> classes;

    public MaskColors(string name, IReadOnlyDictionary<int, int> rgbToClass)
    {
        Name = name;
        classes = new Dictionary<int, int>(rgbToClass);
        classes.TryAdd(0, 0);
    }

    public string Name { get; }

    /// <summary>Packed 0xRRGGBB colour to class id.</summary>
    public IReadOnlyDictionary<int, int> Classes => classes;

    public static int Pack(int r, int g, int b) => (r << 16) | (g << 8) | b;

    public static string Format(int rgb) => $"#{rgb:x6} ({rgb >> 16},{(rgb >> 8) & 0xff},{rgb & 0xff})";

    public bool TryMap(int rgb, out int classId) => classes.TryGetValue(rgb, out classId);

    /// <summary>Reads the JSON map; a bad key or value is an error naming the file.</summary>
    public static MaskColors FromJson(string path)
    {
        using (var document = JsonFile.Read(path, "mask colour map"))
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: mask colour map must be a JSON object {{\"#RRGGBB\": class id}}");
            var entries = new Dictionary<int, int>();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                int rgb = ParseColour(property.Name)
                    ?? throw new InvalidDataException($"{path}: '{property.Name}' is not a colour (write #RRGGBB or R,G,B)");
                if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetInt32(out int id) || id < 0)
                    throw new InvalidDataException($"{path}: the class of '{property.Name}' must be a non-negative integer, not {property.Value}");
                if (!entries.TryAdd(rgb, id))
                    throw new InvalidDataException($"{path}: colour {Format(rgb)} is listed twice");
            }
            if (entries.Count == 0)
                throw new InvalidDataException($"{path}: mask colour map is empty");
            return new MaskColors(Path.GetFileNameWithoutExtension(path), entries);
        }
    }

    /// <summary>"#RRGGBB", "RRGGBB" or "R,G,B" as a packed colour; null when it is neither.</summary>
    public static int? ParseColour(string text)
    {
        string t = text.Trim();
        if (t.Contains(','))
        {
            var parts = t.Split(',', StringSplitOptions.TrimEntries);
            if (parts.Length != 3)
                return null;
            var values = new int[3];
            for (int i = 0; i < 3; i++)
            {
                if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]) || values[i] > 255)
                    return null;
            }
            return Pack(values[0], values[1], values[2]);
        }
        if (t.StartsWith('#'))
            t = t[1..];
        return t.Length == 6 && int.TryParse(t, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int rgb) ? rgb : null;
    }
}
