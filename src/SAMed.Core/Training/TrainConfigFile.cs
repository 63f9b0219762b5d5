using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using SAMed.Adaptation;
using SAMed.Modeling;
using SAMed.TorchInterop;
using SAMed.Training.Parallel;

namespace SAMed.Training;

/// <summary>A configuration that cannot be used; the message names the source and every problem found.</summary>
public sealed class TrainConfigException(string message) : Exception(message);

/// <summary>Reads, overrides, validates and writes <see cref="TrainConfig"/> as snake_case JSON.</summary>
public static class TrainConfigFile
{
    private static readonly Dictionary<string, PropertyInfo> Properties = typeof(TrainConfig)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanWrite)
        .ToDictionary(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name), StringComparer.Ordinal);

    /// <summary>The JSON keys a configuration may have.</summary>
    public static IReadOnlyCollection<string> Keys => Properties.Keys;

    public static TrainConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new TrainConfigException($"{path}: configuration file not found");
        return Parse(File.ReadAllText(path), path);
    }

    public static TrainConfig Parse(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainConfig>(json, TrainConfig.JsonOptions)
                ?? throw new TrainConfigException($"{source}: the configuration is null");
        }
        catch (JsonException e)
        {
            throw new TrainConfigException($"{source}: {Describe(e)}");
        }
    }

    public static string ToJson(TrainConfig config) => JsonSerializer.Serialize(config, TrainConfig.JsonOptions);

    /// <summary>Writes the configuration through a temporary file and a rename.</summary>
    public static void Save(TrainConfig config, string path)
    {
        IO.AtomicFile.WriteText(path, ToJson(config) + "\n");
    }

    /// <summary>
    /// Applies "key=value" overrides. The value is read as JSON (numbers, true/false, null, [arrays]); for text
    /// settings a bare word is taken as text, for lists of text a comma-separated list (devices=cpu,cpu).
    /// </summary>
    public static TrainConfig Apply(TrainConfig config, IEnumerable<string> assignments)
    {
        var node = JsonNode.Parse(ToJson(config))!.AsObject();
        foreach (string assignment in assignments)
        {
            int equals = assignment.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
                throw new TrainConfigException($"--set {assignment}: expected key=value");
            string key = assignment[..equals].Trim();
            string value = assignment[(equals + 1)..];
            if (!Properties.TryGetValue(key, out var property))
                throw new TrainConfigException($"--set {assignment}: unknown setting '{key}' (known: {string.Join(", ", Properties.Keys.Order())})");
            node[key] = ParseValue(value, property.PropertyType);
            Parse(node.ToJsonString(), $"--set {assignment}");
        }
        return Parse(node.ToJsonString(), "--set");
    }

    private static JsonNode? ParseValue(string value, Type type)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (target == typeof(string))
            return value == "null" ? null : JsonValue.Create(value);
        if (target == typeof(string[]) && !value.TrimStart().StartsWith('[') && value != "null")
            return new JsonArray([.. value.Split(',', StringSplitOptions.TrimEntries).Select(v => (JsonNode?)JsonValue.Create(v))]);
        try
        {
            return JsonNode.Parse(value);
        }
        catch (JsonException)
        {
            return JsonValue.Create(value);
        }
    }

    /// <summary>Every range problem of the configuration (empty when it is usable). Files and devices are checked elsewhere.</summary>
    public static IReadOnlyList<string> Problems(TrainConfig c)
    {
        var problems = new List<string>();
        void Require(bool ok, string message)
        {
            if (!ok)
                problems.Add(message);
        }

        Require(SamBuilder.IsKnown(c.VitName), $"vit_name '{c.VitName}' must be one of {string.Join(", ", SamBuilder.ModelTypes)}");
        Require(c.ImgSize >= 32 && c.ImgSize % 16 == 0, $"img_size {c.ImgSize} must be a multiple of 16 and at least 32");
        Require(Strategies.IsKnown(c.Strategy), $"strategy '{c.Strategy}' must be one of {string.Join(", ", Strategies.Names)}");
        Require(c.Rank >= 1, $"rank {c.Rank} must be at least 1");
        Require(!TrainingPrecision.IsKnown(c.Precision) || c.Precision == TrainingPrecision.Float32 || !Strategies.IsKnown(c.Strategy) || Strategies.FreezesEncoderEntirely(c.Strategy),
            $"precision {c.Precision} holds the frozen encoder in bfloat16, but strategy {c.Strategy} trains encoder weights; use lora or decoder, or float32");
        Require(c.NumClasses >= 1, $"num_classes {c.NumClasses} must be at least 1");
        Require(c.BatchSize >= 1, $"batch_size {c.BatchSize} must be at least 1");
        Require(c.NGpu >= 1, $"n_gpu {c.NGpu} must be at least 1");
        Require(c.Optimizer is "adamw" or "sgd", $"optimizer '{c.Optimizer}' must be adamw or sgd");
        Require(c.BaseLr > 0 && double.IsFinite(c.BaseLr), $"base_lr {c.BaseLr} must be positive");
        Require(!c.Warmup || c.WarmupPeriod >= 1, $"warmup_period {c.WarmupPeriod} must be at least 1 when warmup is on");
        Require(c.Betas is { Length: 2 } && c.Betas.All(b => b >= 0 && b < 1), "betas must be two numbers in [0, 1)");
        Require(c.Eps >= 0, $"eps {c.Eps} must not be negative");
        Require(c.WeightDecay is null or >= 0, $"weight_decay {c.WeightDecay} must not be negative");
        Require(c.Momentum >= 0 && c.Momentum < 1, $"momentum {c.Momentum} must be in [0, 1)");
        Require(c.LrExponent > 0, $"lr_exponent {c.LrExponent} must be positive");
        Require(c.MaxEpochs >= 1, $"max_epochs {c.MaxEpochs} must be at least 1");
        Require(c.StopEpoch >= 1, $"stop_epoch {c.StopEpoch} must be at least 1");
        Require(c.MaxSteps is null or >= 1, $"max_steps {c.MaxSteps} must be at least 1 (or null)");
        Require(c.DiceWeight >= 0 && c.DiceWeight <= 1, $"dice_weight {c.DiceWeight} must be in [0, 1]");
        Require(c.SaveInterval >= 1, $"save_interval {c.SaveInterval} must be at least 1");
        Require(c.ResumeInterval >= 1, $"resume_interval {c.ResumeInterval} must be at least 1");
        Require(c.EvalInterval >= 0, $"eval_interval {c.EvalInterval} must not be negative (0: evaluate after training only)");
        Require(TrainingPrecision.IsKnown(c.Precision), c.Precision == "float16"
            ? "precision 'float16' is not supported: TorchSharp has no gradient scaler, so float16 gradients through the encoder could underflow; use bfloat16"
            : $"precision '{c.Precision}' must be {string.Join(" or ", TrainingPrecision.Names)}");
        Require(c.Threads >= 0, $"threads {c.Threads} must not be negative");
        Require(c.GradAccumSteps >= 1, $"grad_accum_steps {c.GradAccumSteps} must be at least 1");
        Require(c.GradAccumSteps <= c.EffectiveBatchSize,
            $"grad_accum_steps {c.GradAccumSteps} must not exceed the batch of batch_size * n_gpu = {c.EffectiveBatchSize}");
        Require(c.NumWorkers >= 0, $"num_workers {c.NumWorkers} must not be negative");
        Require(c.LogInterval >= 1, $"log_interval {c.LogInterval} must be at least 1");
        Require(c.PreviewInterval >= 1, $"preview_interval {c.PreviewInterval} must be at least 1");
        Require(!string.IsNullOrWhiteSpace(c.Output), "output must name a folder");
        // Promptable mode (PromptableStep).
        Require(c.Mode is "semantic" or "promptable", $"mode '{c.Mode}' must be semantic or promptable");
        Require(c.PromptKind is "box" or "point" or "mixed", $"prompt_kind '{c.PromptKind}' must be box, point or mixed");
        Require(c.PromptPoints >= 1, $"prompt_points {c.PromptPoints} must be at least 1");
        Require(c.PromptNegativePoints >= 0, $"prompt_negative_points {c.PromptNegativePoints} must not be negative");
        Require(c.BoxShift >= 0, $"box_shift {c.BoxShift} must not be negative");
        Require(c.Mode != "promptable" || c.GradAccumSteps == 1,
            $"grad_accum_steps {c.GradAccumSteps}: the promptable mode steps on the whole batch (its loss averages over the batch's prompt sets); leave grad_accum_steps at 1");
        if (TorchDevices.FormatProblem(c.Device) is string device)
            problems.Add(device);
        problems.AddRange(TrainingDevices.Problems(c));
        if (c.SyntheticData)
        {
            Require(c.SyntheticTrainVolumes >= 1, $"synthetic_train_volumes {c.SyntheticTrainVolumes} must be at least 1");
            Require(c.SyntheticTestVolumes >= 0, $"synthetic_test_volumes {c.SyntheticTestVolumes} must not be negative");
            Require(c.SyntheticSlices >= 1, $"synthetic_slices {c.SyntheticSlices} must be at least 1");
            Require(c.SyntheticSize >= 16, $"synthetic_size {c.SyntheticSize} must be at least 16");
        }
        else
        {
            Require(!string.IsNullOrWhiteSpace(c.RootPath), "root_path must name the train_npz folder (or set synthetic_data)");
            Require(!string.IsNullOrWhiteSpace(c.ListDir), "list_dir must name the folder with train.txt (or set synthetic_data)");
        }
        return problems;
    }

    /// <summary>Throws a <see cref="TrainConfigException"/> naming every problem, before any compute.</summary>
    public static void Validate(TrainConfig config, string source)
    {
        var problems = Problems(config);
        if (problems.Count > 0)
            throw new TrainConfigException($"{source}: invalid configuration:\n  " + string.Join("\n  ", problems));
    }

    /// <summary>
    /// Problems outside the file: checkpoints that do not exist, data folders that are missing, a device torch cannot use.
    /// </summary>
    public static IReadOnlyList<string> EnvironmentProblems(TrainConfig c)
    {
        var problems = new List<string>();
        if (c.SamCheckpoint is not null && !File.Exists(c.SamCheckpoint))
            problems.Add($"sam_checkpoint {c.SamCheckpoint}: file not found");
        if (c.LoraCheckpoint is not null && !File.Exists(c.LoraCheckpoint))
            problems.Add($"lora_checkpoint {c.LoraCheckpoint}: file not found");
        if (SamBuilder.PretrainedTypes.Contains(c.VitName) && c.SamCheckpoint is null)
            problems.Add($"vit_name {c.VitName} needs sam_checkpoint (SAMed fine-tunes a pretrained SAM); only tiny trains from random weights");
        if (!c.SyntheticData)
        {
            if (c.RootPath is not null && !Directory.Exists(c.RootPath))
                problems.Add($"root_path {c.RootPath}: folder not found");
            if (c.ListDir is not null && !Directory.Exists(c.ListDir))
                problems.Add($"list_dir {c.ListDir}: folder not found");
            if (c.VolumePath is not null && !Directory.Exists(c.VolumePath))
                problems.Add($"volume_path {c.VolumePath}: folder not found");
        }
        // A misspelt device is among Problems already.
        if (TorchDevices.FormatProblem(c.Device) is null && TorchDevices.Problem(c.Device) is string device)
            problems.Add(device);
        foreach (string name in (c.Devices ?? []).Where(d => TorchDevices.FormatProblem(d) is null && d != c.Device).Distinct())
        {
            if (TorchDevices.Problem(name) is string problem)
                problems.Add($"devices: {problem}");
        }
        return problems;
    }

    /// <summary>Validates ranges and the environment; throws one exception listing every problem.</summary>
    public static void Check(TrainConfig config, string source)
    {
        var problems = Problems(config).Concat(EnvironmentProblems(config)).ToList();
        if (problems.Count > 0)
            throw new TrainConfigException($"{source}: invalid configuration:\n  " + string.Join("\n  ", problems));
    }

    private static string Describe(JsonException e)
    {
        string message = e.Message;
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut > 0)
            message = message[..cut];
        string where = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "" : $"{e.Path[2..]}: ";
        if (message.Contains("could not be mapped", StringComparison.Ordinal))
            return $"{message} (known keys: {string.Join(", ", Properties.Keys.Order())})";
        return where + message;
    }
}
