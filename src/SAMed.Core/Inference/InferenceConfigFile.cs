using System.Text.Json;
using System.Text.Json.Serialization;
using SAMed.Modeling;

namespace SAMed.Inference;

/// <summary>
/// Reads and writes <see cref="InferenceConfig"/> JSON. Reading also accepts a training run's configuration
/// (vit_name, img_size, num_classes, rank: SAMed's train.py names) and a bare SAM architecture.
/// </summary>
public static class InferenceConfigFile
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        IgnoreReadOnlyProperties = true,
    };

    /// <summary>The configuration that <c>export</c> writes beside a merged checkpoint: model.pth -&gt; model.json.</summary>
    public static string PathBeside(string checkpointPath) => Path.ChangeExtension(checkpointPath, ".json");

    public static InferenceConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: configuration file not found", path);
        return Parse(File.ReadAllText(path), path);
    }

    public static InferenceConfig Parse(string json, string source)
    {
        InferenceConfig config;
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{source}: a configuration must be a JSON object");
            if (root.TryGetProperty("model", out _))
                config = JsonSerializer.Deserialize<InferenceConfig>(json, Options)!;
            else if (root.TryGetProperty("vit_name", out var vitName))
                config = FromTrainingConfig(root, vitName.GetString() ?? "", source);
            else if (root.TryGetProperty("encoder_embed_dim", out _))
                config = new InferenceConfig { ModelType = "custom", Model = JsonSerializer.Deserialize<SamConfig>(json, Options)!, LoraRank = 0 };
            else
                throw new InvalidDataException($"{source}: not an inference configuration (no \"model\"), training configuration (no \"vit_name\") or SAM architecture (no \"encoder_embed_dim\")");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: invalid configuration JSON: {e.Message}", e);
        }
        config.Validate(source);
        return config;
    }

    public static string ToJson(InferenceConfig config) => JsonSerializer.Serialize(config, Options);

    /// <summary>Writes through a temporary file and a rename.</summary>
    public static void Save(InferenceConfig config, string path)
    {
        IO.AtomicFile.WriteText(path, ToJson(config) + "\n");
    }

    private static InferenceConfig FromTrainingConfig(JsonElement root, string vitName, string source)
    {
        if (!ModelTypesAccepted(vitName))
            throw new InvalidDataException($"{source}: vit_name '{vitName}' must be one of {string.Join(", ", InferenceConfig.ModelTypes)}");
        int imageSize = Int(root, "img_size", 512, source);
        int numClasses = Int(root, "num_classes", 8, source);
        int rank = Int(root, "rank", 4, source);
        int seed = Int(root, "seed", 1234, source);
        return InferenceConfig.ForModel(vitName, imageSize, numClasses, rank) with { Seed = seed };
    }

    private static bool ModelTypesAccepted(string name) => InferenceConfig.ModelTypes.Contains(name) || name == "default";

    private static int Int(JsonElement root, string key, int fallback, string source)
    {
        if (!root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null)
            return fallback;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int result))
            throw new InvalidDataException($"{source}: {key} must be an integer, got {value.GetRawText()}");
        return result;
    }
}
