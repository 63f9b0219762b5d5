using SAMed.Checkpoints;
using SAMed.Lora;
using SAMed.Modeling;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Inference;

/// <summary>
/// A SAMed model ready for inference (eval mode, on its device): SAM, with LoRA either live or merged into the
/// qkv weights. <see cref="SegmentBatch"/> runs SAMed's forward at the image size and returns the argmax labels.
/// </summary>
public sealed class SegmentationModel : IDisposable
{
    private readonly LoraSam? lora;

    private SegmentationModel(InferenceConfig config, Sam sam, LoraSam? lora, bool merged, Device device, string description)
    {
        Config = config;
        Sam = sam;
        this.lora = lora;
        Merged = merged;
        Device = device;
        Description = description;
        sam.eval();
        lora?.eval();
    }

    public InferenceConfig Config { get; }

    public Sam Sam { get; }

    /// <summary>True when LoRA updates were folded into the qkv weights (by --merge-lora or in an exported checkpoint).</summary>
    public bool Merged { get; }

    /// <summary>True when LoRA adapters run beside the frozen qkv projections.</summary>
    public bool HasLiveLora => lora is not null && !Merged;

    public Device Device { get; }

    /// <summary>What was loaded, for logs.</summary>
    public string Description { get; }

    /// <summary>A model around an existing SAM (and LoRA wrapper), e.g. one just trained.</summary>
    public static SegmentationModel FromModules(InferenceConfig config, Sam sam, LoraSam? lora = null, bool mergeLora = false)
    {
        var device = sam.parameters().First().device;
        if (lora is not null && mergeLora)
        {
            LoraMerge.Merge(lora);
            return new SegmentationModel(config with { LoraRank = 0 }, sam, null, true, device, "in-memory model (LoRA merged)");
        }
        return new SegmentationModel(config, sam, lora, false, device, lora is null ? "in-memory SAM" : "in-memory SAMed (LoRA)");
    }

    /// <summary>Builds and loads a model; every file problem is an exception naming the file.</summary>
    public static SegmentationModel Load(ModelLoadOptions options)
    {
        var device = TorchDevices.Parse(options.Device);
        return options.Checkpoint is not null ? LoadMerged(options, device) : LoadWithLora(options, device);
    }

    /// <summary>
    /// SAMed's forward on a batch of slices already at the image size: images [B, S, S] in [0, 1] (any device) are
    /// repeated to 3 channels (colour images come as [B, 3, S, S] and are used as they are),
    /// masks = forward(images, multimask_output, S), labels = argmax(softmax(masks, 1), 1). Returns int64 [B, S, S] on the CPU.
    /// </summary>
    public Tensor SegmentBatch(Tensor images)
    {
        int size = Config.ImageSize;
        bool colour = images.dim() == 4 && images.shape[1] == 3;
        if ((images.dim() != 3 && !colour) || images.shape[^2] != size || images.shape[^1] != size)
            throw new ArgumentException($"slices must be [B, {size}, {size}] or [B, 3, {size}, {size}], got [{string.Join(", ", images.shape)}]", nameof(images));
        // Like a training step: no collection while native calls may read implicitly created Scalars (see GcPause).
        using var pause = GcPause.Begin();
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var input = colour
            ? images.to(ScalarType.Float32).to(Device).contiguous()
            : images.to(ScalarType.Float32).to(Device).unsqueeze(1).expand(-1, 3, -1, -1).contiguous();
        using var output = Sam.Forward(input, Config.MultimaskOutput, size);
        var labels = torch.softmax(output.masks, 1).argmax(1).to(torch.CPU);
        return labels.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        lora?.Dispose();
        Sam.Dispose();
    }

    private static SegmentationModel LoadMerged(ModelLoadOptions options, Device device)
    {
        string checkpoint = options.Checkpoint!;
        if (options.LoraCheckpoint is not null || options.SamCheckpoint is not null)
            throw new ArgumentException($"{checkpoint}: a merged checkpoint is self-contained; do not also give a SAM or LoRA checkpoint");
        if (!File.Exists(checkpoint))
            throw new FileNotFoundException($"{checkpoint}: checkpoint file not found", checkpoint);
        string configPath = options.ConfigPath ?? InferenceConfigFile.PathBeside(checkpoint);
        if (!File.Exists(configPath))
            throw new FileNotFoundException(
                $"{checkpoint}: its configuration {configPath} is missing (export writes it beside the checkpoint; or pass --config)", configPath);
        var config = Override(InferenceConfigFile.Load(configPath), options, configPath) with { LoraRank = 0 };
        var sam = new Sam(config.Model);
        try
        {
            SamCheckpoint.LoadOfficial(sam, checkpoint);
        }
        catch
        {
            sam.Dispose();
            throw;
        }
        sam.to(device);
        return new SegmentationModel(config, sam, null, true, device, $"{config.ModelType} from merged checkpoint {checkpoint}");
    }

    private static SegmentationModel LoadWithLora(ModelLoadOptions options, Device device)
    {
        var (fileRank, fileClasses) = options.LoraCheckpoint is null ? (null, null) : LoraCheckpointShape.Read(options.LoraCheckpoint);
        InferenceConfig config;
        if (options.ConfigPath is not null)
        {
            config = InferenceConfigFile.Load(options.ConfigPath);
            config = Override(config, options with { NumClasses = options.NumClasses ?? fileClasses, Rank = options.Rank ?? fileRank }, options.ConfigPath);
        }
        else
        {
            if (!InferenceConfig.ModelTypes.Contains(options.ModelType))
                throw new ArgumentException($"unknown model type '{options.ModelType}'; expected one of {string.Join(", ", InferenceConfig.ModelTypes)}");
            config = InferenceConfig.ForModel(
                options.ModelType, options.ImageSize ?? 512, options.NumClasses ?? fileClasses ?? 8, options.Rank ?? fileRank ?? 4);
            if (options.InputSize is int inputSize)
                config = config with { InputSize = inputSize };
            if (options.Seed is int seed)
                config = config with { Seed = seed };
            config.Validate("model options");
        }

        bool pretrainedType = config.ModelType is "vit_b" or "vit_l" or "vit_h";
        if (options.SamCheckpoint is null && pretrainedType)
            throw new ArgumentException($"{config.ModelType} needs a SAM checkpoint (e.g. sam_{config.ModelType}_*.pth): SAMed's image encoder is SAM's, frozen");

        if (options.SamCheckpoint is null)
            torch.manual_seed(config.Seed);
        var sam = new Sam(config.Model);
        LoraSam? lora = null;
        try
        {
            if (options.SamCheckpoint is not null)
                SamCheckpoint.LoadOfficial(sam, options.SamCheckpoint);
            var parts = new List<string> { options.SamCheckpoint is null ? $"random-init {config.ModelType} (seed {config.Seed})" : $"{config.ModelType} from {options.SamCheckpoint}" };
            if (options.LoraCheckpoint is not null)
            {
                if (config.LoraRank < 1)
                    throw new ArgumentException($"{options.LoraCheckpoint}: LoRA rank must be at least 1, the configuration says {config.LoraRank}");
                lora = new LoraSam(sam, config.LoraRank);
                lora.LoadLora(options.LoraCheckpoint);
                parts.Add($"LoRA rank {config.LoraRank} from {options.LoraCheckpoint}");
            }
            else
            {
                config = config with { LoraRank = 0 };
            }

            bool merged = false;
            if (lora is not null && options.MergeLora)
            {
                // Disposing the wrapper would dispose the SAM it holds; its small LoRA tensors go with the garbage collector.
                LoraMerge.Merge(lora);
                lora = null;
                merged = true;
                parts.Add("merged into qkv");
            }
            sam.to(device);
            lora?.to(device);
            return new SegmentationModel(config, sam, lora, merged, device, string.Join(", ", parts));
        }
        catch
        {
            lora?.Dispose();
            sam.Dispose();
            throw;
        }
    }

    private static InferenceConfig Override(InferenceConfig config, ModelLoadOptions options, string source)
    {
        var model = config.Model;
        if (options.ImageSize is int size)
            model = model with { ImageSize = size };
        if (options.NumClasses is int classes && classes != model.NumClasses)
            model = model with { NumClasses = classes };
        var result = config with
        {
            Model = model,
            LoraRank = options.Rank ?? config.LoraRank,
            InputSize = options.InputSize ?? config.InputSize,
            Seed = options.Seed ?? config.Seed,
            ClassNames = model.NumClasses == config.Model.NumClasses ? config.ClassNames : null,
        };
        result.Validate(source);
        return result;
    }
}
