using System.Collections.ObjectModel;
using System.Globalization;
using System.Text.Json;
using SAMed.IO;

namespace SAMed.Data;

/// <summary>What a label map does with a source label it does not list.</summary>
public enum UnlistedLabels
{
    /// <summary>Map it to 0 (background); prepare counts such voxels in its summary.</summary>
    Background,

    /// <summary>Refuse the volume: an error names the file and the label.</summary>
    Error,

    /// <summary>Keep the label unchanged (the identity map).</summary>
    Keep,
}

/// <summary>
/// Maps source label ids (as stored in a label volume) to SAMed's class ids.
/// Built in: <see cref="Synapse13"/> (raw Synapse/BTCV, as SAMed's preprocess_data.py), <see cref="TotalSegmentator"/>
/// and <see cref="Identity"/>; user maps come from a JSON object {"source id": target id}.
/// </summary>
public sealed class LabelMap
{
    /// <summary>SAMed's eight Synapse organ classes, class id i at index i - 1 (class 0 is background).</summary>
    public static IReadOnlyList<string> SynapseOrganNames { get; } = new ReadOnlyCollection<string>(
        ["spleen", "right kidney", "left kidney", "gallbladder", "liver", "stomach", "aorta", "pancreas"]);

    private readonly Dictionary<int, int> entries;

    /// <param name="knownMax">
    /// The largest id of the label set the map is written for (TotalSegmentator's 117), when ids it does not list are
    /// expected and mean background; null: only the listed ids are known.
    /// </param>
    public LabelMap(string name, IReadOnlyDictionary<int, int> entries, UnlistedLabels unlisted = UnlistedLabels.Background, int? knownMax = null)
    {
        foreach (var (source, target) in entries)
        {
            if (source < 0 || target < 0)
                throw new ArgumentException($"label map '{name}': entry {source} -> {target} has a negative id");
        }
        Name = name;
        this.entries = new Dictionary<int, int>(entries);
        Unlisted = unlisted;
        KnownMax = knownMax;
    }

    /// <summary>The largest id of the source label set when it is larger than the listed ids (see the constructor).</summary>
    public int? KnownMax { get; }

    /// <summary>Whether a source id belongs to the label set the map is written for (listed, background, or within <see cref="KnownMax"/>).</summary>
    public bool Knows(int source) => source == 0 || entries.ContainsKey(source) || source <= KnownMax || Unlisted == UnlistedLabels.Keep;

    /// <summary>
    /// The built-in map the given unknown source ids most likely belong to: totalseg for ids past Synapse's 13 (up to
    /// TotalSegmentator's 117), synapse13 for ids up to 13; null when neither fits.
    /// </summary>
    public static string? Likely(IEnumerable<int> sourceIds)
    {
        int max = sourceIds.DefaultIfEmpty(0).Max();
        return max switch
        {
            > TotalSegmentatorMaxId => null,
            > 13 => "totalseg",
            > 0 => "synapse13",
            _ => null,
        };
    }

    /// <summary>TotalSegmentator v2's largest class id (117 classes).</summary>
    public const int TotalSegmentatorMaxId = 117;

    public string Name { get; }

    public UnlistedLabels Unlisted { get; }

    /// <summary>The listed source -> target pairs.</summary>
    public IReadOnlyDictionary<int, int> Entries => entries;

    /// <summary>The largest target id (0 for an empty map).</summary>
    public int MaxTarget => entries.Count == 0 ? 0 : entries.Values.Max();

    /// <summary>Raw Synapse (BTCV, 13 organs) to SAMed's 8 classes: 1,2,3,4 kept, 6->5, 7->6, 8->7, 11->8, every other id 0.</summary>
    public static LabelMap Synapse13 { get; } = new("synapse13", new Dictionary<int, int>
    {
        [1] = 1,
        [2] = 2,
        [3] = 3,
        [4] = 4,
        [5] = 0,
        [6] = 5,
        [7] = 6,
        [8] = 7,
        [9] = 0,
        [10] = 0,
        [11] = 8,
        [12] = 0,
        [13] = 0,
    });

    /// <summary>TotalSegmentator classes to SAMed's 8: 1..6 kept, aorta 52->7, pancreas 7->8, every other id 0.</summary>
    public static LabelMap TotalSegmentator { get; } = new("totalseg", new Dictionary<int, int>
    {
        [1] = 1,
        [2] = 2,
        [3] = 3,
        [4] = 4,
        [5] = 5,
        [6] = 6,
        [52] = 7,
        [7] = 8,
    }, knownMax: TotalSegmentatorMaxId);

    /// <summary>Every label kept as it is.</summary>
    public static LabelMap Identity { get; } = new("identity", new Dictionary<int, int>(), UnlistedLabels.Keep);

    public static IReadOnlyList<string> BuiltInNames { get; } = ["synapse13", "totalseg", "identity"];

    /// <summary>A built-in map by name (synapse13, totalseg, identity), or else a JSON map file.</summary>
    public static LabelMap Get(string nameOrPath, UnlistedLabels unlisted = UnlistedLabels.Background) => nameOrPath.ToLowerInvariant() switch
    {
        "synapse13" or "synapse" => Synapse13.WithUnlisted(unlisted),
        "totalseg" or "totalsegmentator" => TotalSegmentator.WithUnlisted(unlisted),
        "identity" => Identity,
        _ when File.Exists(nameOrPath) => FromJson(nameOrPath, unlisted),
        _ => throw new FileNotFoundException(
            $"{nameOrPath}: label map not found (built-in maps: {string.Join(", ", BuiltInNames)}; otherwise give a JSON file)", nameOrPath),
    };

    /// <summary>Reads {"source id": target id, ...}; a missing file, bad JSON or a non-integer id is an error naming the file.</summary>
    public static LabelMap FromJson(string path, UnlistedLabels unlisted = UnlistedLabels.Background)
    {
        using (var document = JsonFile.Read(path, "label map file"))
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: label map must be a JSON object {{\"source id\": target id}}");
            var entries = new Dictionary<int, int>();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!int.TryParse(property.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int source))
                    throw new InvalidDataException($"{path}: label map key '{property.Name}' is not a non-negative integer id");
                if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetInt32(out int target) || target < 0)
                    throw new InvalidDataException($"{path}: label map value for '{property.Name}' must be a non-negative integer, not {property.Value}");
                if (!entries.TryAdd(source, target))
                    throw new InvalidDataException($"{path}: label map lists source id {source} twice");
            }
            if (entries.Count == 0)
                throw new InvalidDataException($"{path}: label map is empty");
            return new LabelMap(Path.GetFileNameWithoutExtension(path), entries, unlisted);
        }
    }

    public LabelMap WithUnlisted(UnlistedLabels unlisted) =>
        unlisted == Unlisted ? this : new LabelMap(Name, entries, unlisted, KnownMax);

    /// <summary>
    /// The target of a listed source id, or what <see cref="Unlisted"/> says for one not listed (Error returns false).
    /// Background 0 maps to 0 and counts as listed unless the map lists it.
    /// </summary>
    public bool TryMap(int source, out int target, out bool listed)
    {
        listed = entries.TryGetValue(source, out target) || source == 0;
        if (listed)
            return true;
        switch (Unlisted)
        {
            case UnlistedLabels.Background:
                target = 0;
                return true;
            case UnlistedLabels.Keep:
                target = source;
                return true;
            default:
                target = 0;
                return false;
        }
    }

    /// <summary>The target id; an unlisted id under <see cref="UnlistedLabels.Error"/> throws.</summary>
    public int Map(int source) => TryMap(source, out int target, out _)
        ? target
        : throw new KeyNotFoundException($"label {source} is not in label map '{Name}'");

    /// <summary>SAMed's organ name of a class id (1..8), "background" for 0, else "class N".</summary>
    public static string ClassName(int classId) => classId switch
    {
        0 => "background",
        >= 1 and <= 8 => SynapseOrganNames[classId - 1],
        _ => $"class {classId}",
    };

    public override string ToString() => Name;
}
