using System.Text.Json;
using SAMed.Adaptation;
using SAMed.Checkpoints;
using SAMed.IO;
using SAMed.Lora;
using SAMed.Modeling;
using static TorchSharp.torch;

namespace SAMed.Diagnostics;

/// <summary>One optimizer step of a reference case: the learning rate used and the losses it computed.</summary>
public sealed record ParityStep(int Iteration, double Lr, double Loss, double LossCe, double LossDice);

/// <summary>case.json's "training" section.</summary>
public sealed record ParityTraining(
    double DiceWeight,
    double Beta1,
    double Beta2,
    double WeightDecay,
    double Eps,
    double BaseLr,
    int WarmupPeriod,
    int MaxIterations,
    bool SameBatchEachStep,
    IReadOnlyList<ParityStep> Steps);

/// <summary>
/// A reference case folder (reference/parity/CASE/ or reference/adapter/CASE/, see the reference README): case.json,
/// the .npy arrays and the .pth state dicts SAMed's PyTorch code produced.
/// </summary>
public sealed class ParityCase
{
    public const string ParityKind = "parity";
    public const string AdapterKind = "adapter";

    /// <summary>The kinds of case that describe one adapted SAMed model end to end.</summary>
    private static readonly string[] ModelKinds = [ParityKind, AdapterKind];

    private ParityCase(string directory, JsonElement root)
    {
        Directory = directory;
        Json = root;
        Model = CaseModel.Read(root.GetProperty("model"));
        Kind = root.TryGetProperty("kind", out var kind) ? kind.GetString() ?? ParityKind : ParityKind;
        LoraRank = root.TryGetProperty("lora_rank", out var rank) ? rank.GetInt32() : 0;
        PretrainedImageSize = root.GetProperty("pretrained_img_size").GetInt32();
        TrainableParameters = root.GetProperty("trainable_parameters").GetInt64();

        var tolerance = root.GetProperty("tolerance");
        ForwardTolerance = ReadTolerance(tolerance, "forward");
        LossTolerance = ReadTolerance(tolerance, "loss");
        GradsTolerance = ReadTolerance(tolerance, "grads");
        AfterStepsTolerance = ReadTolerance(tolerance, "after_steps");

        if (root.TryGetProperty("training", out var training))
        {
            var betas = training.GetProperty("betas").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Training = new ParityTraining(
                DiceWeight: training.GetProperty("dice_weight").GetDouble(),
                Beta1: betas[0],
                Beta2: betas[1],
                WeightDecay: training.GetProperty("weight_decay").GetDouble(),
                Eps: training.GetProperty("eps").GetDouble(),
                BaseLr: training.GetProperty("base_lr").GetDouble(),
                WarmupPeriod: training.GetProperty("warmup_period").GetInt32(),
                MaxIterations: training.GetProperty("max_iterations").GetInt32(),
                SameBatchEachStep: training.TryGetProperty("same_batch_each_step", out var same) && same.GetBoolean(),
                Steps: [.. training.GetProperty("steps").EnumerateArray().Select(s => new ParityStep(
                    s.GetProperty("iteration").GetInt32(),
                    s.GetProperty("lr").GetDouble(),
                    s.GetProperty("loss").GetDouble(),
                    s.GetProperty("loss_ce").GetDouble(),
                    s.GetProperty("loss_dice").GetDouble()))]);
        }
    }

    public string Directory { get; }

    /// <summary>case.json's kind: "parity" (SAMed's LoRA model; also when absent) or "adapter" (Med-SA's adapters).</summary>
    public string Kind { get; }

    /// <summary>The adaptation strategy the case's model uses.</summary>
    public string Strategy => Kind == AdapterKind ? Strategies.Adapter : Strategies.Lora;

    public string Name => Path.GetFileName(Directory.TrimEnd(Path.DirectorySeparatorChar));

    /// <summary>The whole case.json, for fields without a typed property.</summary>
    public JsonElement Json { get; }

    /// <summary>The model's hyperparameters (case.json "model"): the image size is the training input size.</summary>
    public SamConfig Model { get; }

    public int LoraRank { get; }

    /// <summary>The input size sam.pth was made for (its pos_embed and global rel_pos must be resized).</summary>
    public int PretrainedImageSize { get; }

    public long TrainableParameters { get; }

    public Tolerance ForwardTolerance { get; }

    public Tolerance LossTolerance { get; }

    public Tolerance GradsTolerance { get; }

    public Tolerance AfterStepsTolerance { get; }

    public ParityTraining? Training { get; }

    public string SamCheckpointPath => File("sam.pth");

    public string LoraCheckpointPath => File("lora.pth");

    /// <summary>The strategy's checkpoint: lora.pth, or the adapter case's adapter.pth.</summary>
    public string StrategyCheckpointPath => Kind == AdapterKind ? File("adapter.pth") : LoraCheckpointPath;

    /// <summary>Batch size of the case's input.</summary>
    public long Batch => Array("input").Shape[0];

    public string GradsPath => File("grads.pth");

    public string AfterStepsPath => File("after_steps.pth");

    public string File(string name) => Path.Combine(Directory, name);

    /// <summary>True when the case has the array (e.g. an adapter case has no masks.npy).</summary>
    public bool Has(string name) => System.IO.File.Exists(File(name.EndsWith(".npy", StringComparison.Ordinal) ? name : name + ".npy"));

    public NpyArray Array(string name) => Npy.Read(File(name.EndsWith(".npy", StringComparison.Ordinal) ? name : name + ".npy"));

    public Tensor Tensor(string name) => Array(name).ToTensor();

    public static ParityCase Load(string directory)
    {
        string path = Path.Combine(directory, "case.json");
        if (!System.IO.File.Exists(path))
            throw new FileNotFoundException($"{path}: reference case has no case.json", path);
        using var document = JsonDocument.Parse(System.IO.File.ReadAllText(path));
        return new ParityCase(directory, document.RootElement.Clone());
    }

    /// <summary>
    /// The model cases of a reference folder (the one holding parity/ and adapter/): every sub-folder of those with a
    /// case.json, in name order.
    /// </summary>
    public static IReadOnlyList<string> Directories(string referenceRoot)
    {
        var directories = new List<string>();
        foreach (string kind in ModelKinds)
        {
            string folder = Path.Combine(referenceRoot, kind);
            if (System.IO.Directory.Exists(folder))
            {
                directories.AddRange(System.IO.Directory.GetDirectories(folder)
                    .Where(d => System.IO.File.Exists(Path.Combine(d, "case.json")))
                    .Order(StringComparer.Ordinal));
            }
        }
        return directories;
    }

    /// <summary>True for the kinds that describe one adapted SAMed model end to end (parity, adapter).</summary>
    public static bool IsModelKind(string kind) => ModelKinds.Contains(kind);

    /// <summary>case.json's kind ("parity" when absent).</summary>
    public static string KindOf(string directory)
    {
        using var document = JsonDocument.Parse(System.IO.File.ReadAllText(Path.Combine(directory, "case.json")));
        return document.RootElement.TryGetProperty("kind", out var kind) ? kind.GetString() ?? ParityKind : ParityKind;
    }

    /// <summary>The case's model: its architecture in full, SAMed's LoRA at the case's rank.</summary>
    public ModelSpec Spec => new()
    {
        Custom = Model,
        ImgSize = Model.ImageSize,
        NumClasses = Model.NumClasses,
        Strategy = Strategy,
        Rank = Math.Max(1, LoraRank),
        PixelMean = Model.PixelMean,
        PixelStd = Model.PixelStd,
    };

    /// <summary>Builds the case's model through the factory: sam.pth with SAMed's resizing, the strategy, its checkpoint.</summary>
    public AdaptedSam CreateModel(Device? device = null) => ModelFactory.Create(Spec, SamCheckpointPath, StrategyCheckpointPath, device);

    /// <summary>A SAMed LoRA case's model (<see cref="LoraCases"/>).</summary>
    public LoraSam CreateLoraModel(Device? device = null) =>
        CreateModel(device) as LoraSam ?? throw new InvalidOperationException($"{Directory}: not a SAMed LoRA case");

    private static Tolerance ReadTolerance(JsonElement tolerance, string name)
    {
        var entry = tolerance.GetProperty(name);
        return new Tolerance(entry.GetProperty("atol").GetDouble(), entry.GetProperty("rtol").GetDouble());
    }
}
