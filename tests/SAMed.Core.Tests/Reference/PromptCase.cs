using System.Text.Json;
using SAMed.Diagnostics;
using SAMed.IO;
using SAMed.Modeling;
using static TorchSharp.torch;

namespace SAMed.Tests.Reference;

/// <summary>One image of a prompts case: its files and sizes (case.json "images").</summary>
public sealed record PromptCaseImage(int Index, string Image, (int H, int W) OriginalSize, (int H, int W) InputSize,
    string? PointCoords, string? PointLabels, string? Boxes, string? MaskInputs);

/// <summary>
/// A reference case of kind "prompts" (prompts/CASE/ or a folder named in SAMED_REFERENCE_CASES): Meta's
/// segment-anything Sam.forward on a small official-layout SAM with point, box and mask prompts.
/// </summary>
public sealed class PromptCase
{
    public const string Kind = "prompts";

    private PromptCase(string directory, JsonElement root)
    {
        Directory = directory;
        Model = CaseModel.Read(root.GetProperty("model"), classesKey: "num_multimask_outputs");
        static (int, int) Size(JsonElement e) => (e[0].GetInt32(), e[1].GetInt32());
        static string? Name(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.GetString() : null;
        Images = [.. root.GetProperty("images").EnumerateArray().Select(e => new PromptCaseImage(
            e.GetProperty("index").GetInt32(), e.GetProperty("image").GetString()!,
            Size(e.GetProperty("original_size")), Size(e.GetProperty("input_size")),
            Name(e, "point_coords"), Name(e, "point_labels"), Name(e, "boxes"), Name(e, "mask_inputs")))];
        var forward = root.GetProperty("tolerance").GetProperty("forward");
        ForwardTolerance = new Tolerance(forward.GetProperty("atol").GetDouble(), forward.GetProperty("rtol").GetDouble());
    }

    public string Directory { get; }

    public SamConfig Model { get; }

    public IReadOnlyList<PromptCaseImage> Images { get; }

    public Tolerance ForwardTolerance { get; }

    public string SamCheckpointPath => Path.Combine(Directory, "sam.pth");

    public Tensor Tensor(string name) => Npy.Read(Path.Combine(Directory, name.EndsWith(".npy", StringComparison.Ordinal) ? name : name + ".npy")).ToTensor();

    public static PromptCase Load(string directory)
    {
        string path = Path.Combine(directory, "case.json");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return new PromptCase(directory, document.RootElement.Clone());
    }

    /// <summary>The "kind" of a case folder's case.json (null when it has none or no case.json).</summary>
    public static string? KindOf(string directory)
    {
        string path = Path.Combine(directory, "case.json");
        if (!File.Exists(path))
            return null;
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.TryGetProperty("kind", out var kind) ? kind.GetString() : null;
    }

    /// <summary>
    /// Every folder under prompts/ plus every SAMED_REFERENCE_CASES folder whose case.json says "kind": "prompts".
    /// Folders of other kinds are left to their own tests.
    /// </summary>
    public static TheoryData<string> Cases()
    {
        var directories = new List<string>();
        string root = SharedPaths.Reference("prompts");
        if (System.IO.Directory.Exists(root))
            directories.AddRange(System.IO.Directory.GetDirectories(root).Where(d => KindOf(d) == Kind).Order(StringComparer.Ordinal));
        string? extra = Environment.GetEnvironmentVariable(ParityCases.CasesVariable);
        if (!string.IsNullOrWhiteSpace(extra))
        {
            foreach (string item in extra.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string full = Path.GetFullPath(item);
                if (KindOf(full) == Kind && !directories.Contains(full))
                    directories.Add(full);
            }
        }
        var data = new TheoryData<string>();
        foreach (string directory in directories)
            data.Add(directory);
        return data;
    }
}
