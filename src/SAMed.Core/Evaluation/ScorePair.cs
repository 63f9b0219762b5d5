namespace SAMed.Evaluation;

/// <summary>A predicted label file and its reference, named by case.</summary>
public sealed record ScorePair(string Case, string Prediction, string Reference)
{
    /// <summary>
    /// Two files make one pair; two folders are matched by case name (the file name without its label-file
    /// extension, see <see cref="LabelVolume.Extensions"/>). Every file on either side must have a partner.
    /// </summary>
    public static IReadOnlyList<ScorePair> Match(string prediction, string reference)
    {
        bool predictionIsFolder = Directory.Exists(prediction), referenceIsFolder = Directory.Exists(reference);
        if (!predictionIsFolder && !File.Exists(prediction))
            throw new FileNotFoundException($"{prediction}: no such file or folder", prediction);
        if (!referenceIsFolder && !File.Exists(reference))
            throw new FileNotFoundException($"{reference}: no such file or folder", reference);
        if (predictionIsFolder != referenceIsFolder)
            throw new ArgumentException($"compare two files or two folders, not {Kind(predictionIsFolder)} {prediction} with {Kind(referenceIsFolder)} {reference}");
        if (!predictionIsFolder)
            return [new ScorePair(CaseName(prediction) ?? Path.GetFileName(prediction), prediction, reference)];

        var predictions = Index(prediction);
        var references = Index(reference);
        var missingReference = predictions.Keys.Where(k => !references.ContainsKey(k)).Order(StringComparer.Ordinal).ToArray();
        var missingPrediction = references.Keys.Where(k => !predictions.ContainsKey(k)).Order(StringComparer.Ordinal).ToArray();
        if (missingReference.Length > 0 || missingPrediction.Length > 0)
        {
            var problems = new List<string>();
            if (missingReference.Length > 0)
                problems.Add($"no reference in {reference} for {string.Join(", ", missingReference.Select(k => Path.GetFileName(predictions[k])))}");
            if (missingPrediction.Length > 0)
                problems.Add($"no prediction in {prediction} for {string.Join(", ", missingPrediction.Select(k => Path.GetFileName(references[k])))}");
            throw new InvalidDataException(string.Join("; ", problems));
        }

        if (predictions.Count == 0)
            throw new InvalidDataException($"{prediction}: no label files ({string.Join(", ", LabelVolume.Extensions)})");
        return predictions.Keys.Order(StringComparer.Ordinal)
            .Select(k => new ScorePair(k, predictions[k], references[k]))
            .ToArray();
    }

    /// <summary>The file name without its label-file extension, or null when it has none of them.</summary>
    public static string? CaseName(string path)
    {
        string name = Path.GetFileName(path);
        foreach (string extension in LabelVolume.Extensions)
            if (name.EndsWith(extension, StringComparison.OrdinalIgnoreCase) && name.Length > extension.Length)
                return name[..^extension.Length];
        return null;
    }

    private static Dictionary<string, string> Index(string folder)
    {
        var index = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string file in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
        {
            string? name = CaseName(file);
            if (name is null)
                continue;
            if (!index.TryAdd(name, file))
                throw new InvalidDataException($"{folder}: case {name} has two files, {Path.GetFileName(index[name])} and {Path.GetFileName(file)}");
        }

        return index;
    }

    private static string Kind(bool folder) => folder ? "folder" : "file";
}
