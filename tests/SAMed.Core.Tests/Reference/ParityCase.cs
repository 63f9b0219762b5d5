using System.Text.Json;
using SAMed.Checkpoints;
using SAMed.IO;
using SAMed.Lora;
using SAMed.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Reference;

/// <summary>Element-wise tolerance: |got - want| &lt;= Atol + Rtol * |want|.</summary>
public sealed record Tolerance(double Atol, double Rtol);

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
/// A reference case folder (parity/CASE/ or one named in SAMED_REFERENCE_CASES): case.json, the .npy arrays and
/// the .pth state dicts SAMed's PyTorch code produced.
/// </summary>
public sealed class ParityCase
{
    public const string CasesVariable = "SAMED_REFERENCE_CASES";

    private ParityCase(string directory, JsonElement root)
    {
        Directory = directory;
        Json = root;
        var model = root.GetProperty("model");
        Model = new SamConfig
        {
            ImageSize = model.GetProperty("img_size").GetInt32(),
            PatchSize = model.GetProperty("patch_size").GetInt32(),
            InChans = model.GetProperty("in_chans").GetInt32(),
            EncoderEmbedDim = model.GetProperty("embed_dim").GetInt32(),
            EncoderDepth = model.GetProperty("depth").GetInt32(),
            EncoderNumHeads = model.GetProperty("num_heads").GetInt32(),
            MlpRatio = model.GetProperty("mlp_ratio").GetDouble(),
            QkvBias = model.GetProperty("qkv_bias").GetBoolean(),
            UseRelPos = model.GetProperty("use_rel_pos").GetBoolean(),
            WindowSize = model.GetProperty("window_size").GetInt32(),
            GlobalAttnIndexes = [.. model.GetProperty("global_attn_indexes").EnumerateArray().Select(e => e.GetInt32())],
            EncoderLayerNormEps = model.GetProperty("encoder_layernorm_eps").GetDouble(),
            PromptEmbedDim = model.GetProperty("prompt_embed_dim").GetInt32(),
            MaskInChans = model.GetProperty("mask_in_chans").GetInt32(),
            DecoderDepth = model.GetProperty("decoder_depth").GetInt32(),
            DecoderHeads = model.GetProperty("decoder_heads").GetInt32(),
            DecoderMlpDim = model.GetProperty("decoder_mlp_dim").GetInt32(),
            IouHeadDepth = model.GetProperty("iou_head_depth").GetInt32(),
            IouHeadHiddenDim = model.GetProperty("iou_head_hidden_dim").GetInt32(),
            NumClasses = model.GetProperty("num_classes").GetInt32(),
            PixelMean = [.. model.GetProperty("pixel_mean").EnumerateArray().Select(e => (float)e.GetDouble())],
            PixelStd = [.. model.GetProperty("pixel_std").EnumerateArray().Select(e => (float)e.GetDouble())],
        };
        LoraRank = root.GetProperty("lora_rank").GetInt32();
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

    public string GradsPath => File("grads.pth");

    public string AfterStepsPath => File("after_steps.pth");

    public string File(string name) => Path.Combine(Directory, name);

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
    /// Every case folder under parity/ plus every folder named in SAMED_REFERENCE_CASES (':'-separated).
    /// A named folder that does not exist is still returned, so that its test fails loudly.
    /// </summary>
    public static IReadOnlyList<string> Directories()
    {
        var directories = new List<string>();
        string parity = SharedPaths.Reference("parity");
        if (System.IO.Directory.Exists(parity))
        {
            directories.AddRange(System.IO.Directory.GetDirectories(parity)
                .Where(d => System.IO.File.Exists(Path.Combine(d, "case.json")))
                .Order(StringComparer.Ordinal));
        }
        string? extra = Environment.GetEnvironmentVariable(CasesVariable);
        if (!string.IsNullOrWhiteSpace(extra))
        {
            foreach (string item in extra.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string full = Path.GetFullPath(item);
                if (!directories.Contains(full))
                    directories.Add(full);
            }
        }
        return directories;
    }

    /// <summary>xunit MemberData: one row per case folder.</summary>
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (string directory in Directories())
            data.Add(directory);
        return data;
    }

    /// <summary>Builds the case's SAM, loads sam.pth with SAMed's resizing, wraps it in LoRA and loads lora.pth.</summary>
    public LoraSam CreateModel(Device? device = null)
    {
        var sam = new Sam(Model);
        SamCheckpoint.LoadOfficial(sam, SamCheckpointPath);
        var model = new LoraSam(sam, LoraRank);
        model.LoadLora(LoraCheckpointPath);
        if (device is not null)
            model.to(device);
        return model;
    }

    /// <summary>Asserts |got - want| &lt;= atol + rtol * |want| everywhere, reporting the worst element.</summary>
    public static void AssertClose(string what, Tensor got, Tensor want, Tolerance tolerance)
    {
        Assert.True(got.shape.SequenceEqual(want.shape),
            $"{what}: shape [{string.Join(", ", got.shape)}] but the reference has [{string.Join(", ", want.shape)}]");
        using var scope = torch.NewDisposeScope();
        var g = got.detach().to(torch.CPU).to_type(ScalarType.Float64);
        var w = want.detach().to(torch.CPU).to_type(ScalarType.Float64);
        var diff = (g - w).abs();
        var allowed = tolerance.Atol + tolerance.Rtol * w.abs();
        var excess = diff - allowed;
        long violations = (excess > 0).sum().item<long>();
        if (violations > 0 || g.isnan().any().item<bool>())
        {
            long worst = excess.flatten().argmax().item<long>();
            double gotValue = g.flatten()[worst].item<double>();
            double wantValue = w.flatten()[worst].item<double>();
            Assert.Fail($"{what}: {violations} of {w.numel()} elements outside atol {tolerance.Atol}, rtol {tolerance.Rtol}; "
                + $"worst at flat index {worst}: got {gotValue:R}, want {wantValue:R}, |diff| {Math.Abs(gotValue - wantValue):R}; "
                + $"max |diff| {diff.max().item<double>():R}");
        }
    }

    private static Tolerance ReadTolerance(JsonElement tolerance, string name)
    {
        var entry = tolerance.GetProperty(name);
        return new Tolerance(entry.GetProperty("atol").GetDouble(), entry.GetProperty("rtol").GetDouble());
    }
}
