using System.Text.Json;
using System.Text.Json.Serialization;
using SAMed.IO;

namespace SAMed.Adaptation;

/// <summary>
/// The model description written beside every checkpoint (epoch_N.pth -&gt; epoch_N.json), so a checkpoint alone says
/// which model it belongs to. The .pth itself stays exactly the strategy's format (SAMed's load_lora_parameters
/// still reads a LoRA one).
/// </summary>
public static class ModelSpecFile
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        IgnoreReadOnlyProperties = true,
        NumberHandling = JsonNumberHandling.Strict,
    };

    /// <summary>model.pth -&gt; model.json.</summary>
    public static string PathBeside(string checkpointPath) => Path.ChangeExtension(checkpointPath, ".json");

    public static void Save(ModelSpec spec, string path) => AtomicFile.WriteText(path, ToJson(spec) + "\n");

    public static string ToJson(ModelSpec spec) => JsonSerializer.Serialize(spec, Options);

    /// <summary>The description beside <paramref name="checkpointPath"/>, or null when there is none (e.g. SAMed's own checkpoints).</summary>
    public static ModelSpec? FindBeside(string checkpointPath)
    {
        string path = PathBeside(checkpointPath);
        if (!File.Exists(path))
            return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            // An export's inference configuration (key "model") or another JSON is not a model description.
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("strategy", out _))
                return null;
            var spec = JsonSerializer.Deserialize<ModelSpec>(document.RootElement, Options)!;
            spec.Validate(path);
            return spec;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a readable model description: {e.Message}", e);
        }
    }
}
