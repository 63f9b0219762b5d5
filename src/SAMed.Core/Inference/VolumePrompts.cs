using System.Globalization;
using System.Text.Json;
using SAMed.IO;

namespace SAMed.Inference;

/// <summary>A click at voxel (X, Y, Z) of the input file (indices along its on-disk axes 0, 1, 2); positive: on the object.</summary>
public sealed record VoxelPoint(int X, int Y, int Z, bool Positive = true);

/// <summary>
/// A box on the slices <see cref="SliceStart"/>..<see cref="SliceEnd"/> (inclusive): X0..X1 along the slice's
/// column axis and Y0..Y1 along its row axis (for SAMed's slice axis 2: voxel x and y), inclusive voxel indices.
/// </summary>
public sealed record VolumeBox(int X0, int Y0, int X1, int Y1, int SliceStart, int SliceEnd);

/// <summary>One object to segment: the label value written for it, a box over a slice range and/or clicks.</summary>
public sealed record PromptedObject(int Label, VolumeBox? Box, IReadOnlyList<VoxelPoint> Points)
{
    /// <summary>Checks the prompt against the volume's shape; every problem is one line naming <paramref name="source"/>.</summary>
    public void Validate(VolumeSlicer slicer, string source)
    {
        string what = $"{source}: object with label {Label}";
        if (Label is < 1 or > 255)
            throw new ArgumentException($"{what}: label value must be 1..255 (0 is background, the output is uint8)");
        if (Box is null && !Points.Any(p => p.Positive))
            throw new ArgumentException($"{what}: needs a box or at least one positive point");
        var shape = slicer.Shape;
        foreach (var p in Points)
        {
            if (p.X < 0 || p.Y < 0 || p.Z < 0 || p.X >= shape[0] || p.Y >= shape[1] || p.Z >= shape[2])
                throw new ArgumentException($"{what}: point ({p.X}, {p.Y}, {p.Z}) is outside the image [{string.Join("x", shape)}]");
        }
        if (Box is { } b)
        {
            if (b.X1 <= b.X0 || b.Y1 <= b.Y0)
                throw new ArgumentException($"{what}: box {b.X0},{b.Y0},{b.X1},{b.Y1} is empty (need x0 < x1 and y0 < y1)");
            if (b.X0 < 0 || b.Y0 < 0 || b.X1 >= slicer.Columns || b.Y1 >= slicer.Rows)
                throw new ArgumentException(
                    $"{what}: box {b.X0},{b.Y0},{b.X1},{b.Y1} is outside the {slicer.Columns}x{slicer.Rows} slice (x 0..{slicer.Columns - 1}, y 0..{slicer.Rows - 1})");
            if (b.SliceEnd < b.SliceStart || b.SliceStart < 0 || b.SliceEnd >= slicer.SliceCount)
                throw new ArgumentException($"{what}: slice range {b.SliceStart}..{b.SliceEnd} must be ordered and inside 0..{slicer.SliceCount - 1}");
        }
    }
}

/// <summary>
/// Prompts from the command line and from a JSON file:
/// <c>{"objects": [{"label": 1, "box": [x0, y0, x1, y1], "slices": [z0, z1]}, {"label": 2, "points": [[x, y, z]], "negative_points": [[x, y, z]]}]}</c>.
/// </summary>
public static class VolumePrompts
{
    /// <summary>"a,b,c,..." as exactly <paramref name="count"/> integers; an error naming <paramref name="option"/> otherwise.</summary>
    public static int[] ParseInts(string text, int count, string option)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new int[parts.Length];
        bool ok = parts.Length == count;
        for (int i = 0; ok && i < parts.Length; i++)
            ok = int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out values[i]);
        if (!ok)
            throw new ArgumentException($"{option} '{text}': expected {count} comma-separated integers (voxel indices)");
        return values;
    }

    public static VolumeBox ParseBox(string box, string? slices)
    {
        var b = ParseInts(box, 4, "--box");
        if (slices is null)
            throw new ArgumentException("--box needs --slices z0,z1 (the slice range it spans, inclusive)");
        var s = ParseInts(slices, 2, "--slices");
        return new VolumeBox(b[0], b[1], b[2], b[3], s[0], s[1]);
    }

    public static VoxelPoint ParsePoint(string text, bool positive)
    {
        var p = ParseInts(text, 3, positive ? "--point" : "--negative-point");
        return new VoxelPoint(p[0], p[1], p[2], positive);
    }

    /// <summary>Reads a prompts file; a malformed one is an error naming the file and the object.</summary>
    public static IReadOnlyList<PromptedObject> Load(string path)
    {
        using (var document = JsonFile.Read(path, "prompts file"))
        {
            if (!document.RootElement.TryGetProperty("objects", out var objects) || objects.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{path}: expected {{\"objects\": [...]}}");
            var result = new List<PromptedObject>();
            int index = 0;
            foreach (var o in objects.EnumerateArray())
            {
                try
                {
                    result.Add(ReadObject(o));
                }
                catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException or InvalidDataException)
                {
                    throw new InvalidDataException($"{path}: object {index}: {e.Message}");
                }
                index++;
            }
            if (result.Count == 0)
                throw new InvalidDataException($"{path}: no objects");
            return result;
        }
    }

    private static PromptedObject ReadObject(JsonElement o)
    {
        if (!o.TryGetProperty("label", out var label))
            throw new InvalidDataException("needs \"label\" (the value written for it, 1..255)");
        VolumeBox? box = null;
        if (o.TryGetProperty("box", out var b))
        {
            var corners = Ints(b, 4, "box");
            if (!o.TryGetProperty("slices", out var s))
                throw new InvalidDataException("a box needs \"slices\": [z0, z1]");
            var range = Ints(s, 2, "slices");
            box = new VolumeBox(corners[0], corners[1], corners[2], corners[3], range[0], range[1]);
        }
        var points = new List<VoxelPoint>();
        foreach (var (name, positive) in new[] { ("points", true), ("negative_points", false) })
        {
            if (!o.TryGetProperty(name, out var list))
                continue;
            foreach (var p in list.EnumerateArray())
            {
                var xyz = Ints(p, 3, name);
                points.Add(new VoxelPoint(xyz[0], xyz[1], xyz[2], positive));
            }
        }
        return new PromptedObject(label.GetInt32(), box, points);
    }

    private static int[] Ints(JsonElement e, int count, string name)
    {
        if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != count)
            throw new InvalidDataException($"\"{name}\" must be an array of {count} integers");
        return [.. e.EnumerateArray().Select(v => v.GetInt32())];
    }
}
