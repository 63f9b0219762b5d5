using System.Globalization;
using System.Text.RegularExpressions;

namespace SAMed.Data;

/// <summary>One image/label NIfTI pair and the SAMed case name it becomes (e.g. case0001).</summary>
public sealed record PrepareCase(string Name, string ImagePath, string LabelPath);

/// <summary>
/// Finds image/label pairs. Case names follow SAMed's preprocess_data.py where the files are Synapse's imgNNNN.nii.gz
/// (case + the four digits); otherwise they are the image file names (see <see cref="PrepareCases.KeptName"/>) when
/// every one is usable and distinct, else case0001, case0002, ... in sorted (or listed) order.
/// </summary>
public static partial class PrepareCases
{
    /// <summary>
    /// Pairs every .nii/.nii.gz in <paramref name="imagesDir"/> (sorted by name) with the label in <paramref name="labelsDir"/>
    /// of the same name (an nnU-Net channel suffix _0000 on the image is ignored), or else the one label whose digits match
    /// (Synapse's img0001 / label0001).
    /// </summary>
    public static IReadOnlyList<PrepareCase> FromFolders(string imagesDir, string labelsDir)
    {
        RequireDirectory(imagesDir, "image");
        RequireDirectory(labelsDir, "label");
        var images = NiftiFiles(imagesDir);
        if (images.Count == 0)
            throw new InvalidDataException($"{imagesDir}: no .nii or .nii.gz images found");
        var labels = NiftiFiles(labelsDir);
        var byStem = labels.ToDictionary(Stem, StringComparer.Ordinal);
        var byDigits = labels.GroupBy(Digits).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);

        var pairs = new List<(string Image, string Label)>();
        foreach (string image in images)
        {
            string stem = Stem(image);
            string key = stem.EndsWith("_0000", StringComparison.Ordinal) ? stem[..^5] : stem;
            if (byStem.TryGetValue(key, out string? label) || byStem.TryGetValue(stem, out label))
                pairs.Add((image, label));
            else if (Digits(image) is { Length: > 0 } digits && byDigits.TryGetValue(digits, out var matches) && matches.Count == 1)
                pairs.Add((image, matches[0]));
            else
                throw new InvalidDataException($"{image}: no label file in {labelsDir} matches this image (same name, or the same number)");
        }
        var duplicated = pairs.GroupBy(p => p.Label).FirstOrDefault(g => g.Count() > 1);
        if (duplicated is not null)
            throw new InvalidDataException($"{duplicated.Key}: label file matches several images ({string.Join(", ", duplicated.Select(p => Path.GetFileName(p.Image)))})");
        return Name(pairs.Select(p => (p.Image, p.Label, (string?)null)).ToList());
    }

    /// <summary>
    /// Reads "image&lt;TAB&gt;label[&lt;TAB&gt;case name]" lines; relative paths are relative to the list file;
    /// blank lines and lines starting with # are skipped.
    /// </summary>
    public static IReadOnlyList<PrepareCase> FromListFile(string listPath)
    {
        if (!File.Exists(listPath))
            throw new FileNotFoundException($"{listPath}: pair list file not found", listPath);
        string baseDir = Path.GetDirectoryName(Path.GetFullPath(listPath))!;
        var entries = new List<(string Image, string Label, string? Name)>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(listPath))
        {
            lineNumber++;
            string trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
                continue;
            var parts = trimmed.Split('\t');
            if (parts.Length is < 2 or > 3 || parts.Any(p => p.Trim().Length == 0))
                throw new InvalidDataException($"{listPath}:{lineNumber}: expected 'image<TAB>label' or 'image<TAB>label<TAB>case name', got '{trimmed}'");
            entries.Add((Path.GetFullPath(parts[0].Trim(), baseDir), Path.GetFullPath(parts[1].Trim(), baseDir),
                parts.Length == 3 ? parts[2].Trim() : null));
        }
        if (entries.Count == 0)
            throw new InvalidDataException($"{listPath}: pair list names no image/label pairs");
        return Name(entries);
    }

    /// <summary>A single pair.</summary>
    public static IReadOnlyList<PrepareCase> FromFiles(string imagePath, string labelPath, string? name = null) =>
        Name([(Path.GetFullPath(imagePath), Path.GetFullPath(labelPath), name)]);

    /// <summary>"case0001" from a case name, a number ("1", "0001"), with SAMed's four-digit padding.</summary>
    public static string CaseName(string nameOrNumber)
    {
        string trimmed = nameOrNumber.Trim();
        return int.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out int number)
            ? CaseName(number)
            : trimmed;
    }

    public static string CaseName(int number) => "case" + number.ToString("D4", CultureInfo.InvariantCulture);

    private static IReadOnlyList<PrepareCase> Name(IReadOnlyList<(string Image, string Label, string? Name)> entries)
    {
        var synapseNumbers = entries.Select(e => SynapseImageName().Match(Stem(e.Image))).ToList();
        bool synapse = synapseNumbers.All(m => m.Success);
        var kept = entries.Select(e => KeptName(e.Image)).ToList();
        bool keep = !synapse && kept.All(n => n is not null) && kept.Distinct(StringComparer.Ordinal).Count() == kept.Count;
        var cases = entries.Select((e, i) => new PrepareCase(
            e.Name ?? (synapse ? "case" + synapseNumbers[i].Groups[1].Value : keep ? kept[i]! : CaseName(i + 1)),
            e.Image,
            e.Label)).ToList();
        foreach (var c in cases)
        {
            if (c.Name.Length == 0 || c.Name.IndexOfAny([.. Path.GetInvalidFileNameChars(), ' ', '\t']) >= 0)
                throw new InvalidDataException($"{c.ImagePath}: case name '{c.Name}' is not usable as a file name");
        }
        var duplicate = cases.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InvalidDataException($"case name {duplicate.Key} is used by several images: {string.Join(", ", duplicate.Select(c => c.ImagePath))}");
        return cases;
    }

    private static void RequireDirectory(string dir, string what)
    {
        if (!Directory.Exists(dir))
            throw new DirectoryNotFoundException($"{dir}: {what} folder not found");
    }

    private static List<string> NiftiFiles(string dir) => Directory.EnumerateFiles(dir)
        .Where(f => f.EndsWith(".nii", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".nii.gz", StringComparison.OrdinalIgnoreCase))
        .Order(StringComparer.Ordinal)
        .ToList();

    /// <summary>The file name without .nii or .nii.gz.</summary>
    public static string Stem(string path)
    {
        string name = Path.GetFileName(path);
        foreach (string extension in new[] { ".nii.gz", ".nii" })
            if (name.EndsWith(extension, StringComparison.OrdinalIgnoreCase))
                return name[..^extension.Length];
        return name;
    }

    /// <summary>
    /// The case name an image file gives: its name without .nii(.gz) and an nnU-Net channel suffix _0000, when that is
    /// letters, digits, '_', '-' and '.' (all digits: caseNNNN); else null.
    /// </summary>
    public static string? KeptName(string imagePath)
    {
        string stem = Stem(imagePath);
        if (stem.EndsWith("_0000", StringComparison.Ordinal) && stem.Length > 5)
            stem = stem[..^5];
        if (stem.Length > 0 && stem.All(char.IsAsciiDigit) && int.TryParse(stem, NumberStyles.None, CultureInfo.InvariantCulture, out int number))
            return CaseName(number);
        return UsableName().IsMatch(stem) ? stem : null;
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    private static partial Regex UsableName();

    private static string Digits(string path) => string.Concat(Stem(path).Where(char.IsAsciiDigit));

    [GeneratedRegex(@"^img(\d{4})$")]
    private static partial Regex SynapseImageName();
}
