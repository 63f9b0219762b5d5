using SAMed.Adaptation;
using SAMed.Checkpoints;
using SAMed.Lora;
using SAMed.Modeling;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Inference;

/// <summary>
/// A SAMed model ready for inference (eval mode, on its device): SAM adapted by a strategy (LoRA live or merged into
/// the qkv weights, adapters, a tuned decoder, or a fully tuned SAM). <see cref="SegmentBatch"/> runs SAMed's forward
/// at the image size and returns the argmax labels.
/// </summary>
public sealed class SegmentationModel : IDisposable
{
    private readonly AdaptedSam? adapted;

    private SegmentationModel(InferenceConfig config, Sam sam, AdaptedSam? adapted, bool merged, Device device, string description)
    {
        Config = config;
        Sam = sam;
        this.adapted = adapted;
        Merged = merged;
        Device = device;
        Description = description;
        sam.eval();
        adapted?.eval();
    }

    public InferenceConfig Config { get; }

    public Sam Sam { get; }

    /// <summary>True when LoRA updates were folded into the qkv weights (by --merge-lora or in an exported checkpoint).</summary>
    public bool Merged { get; }

    /// <summary>True when LoRA adapters run beside the frozen qkv projections.</summary>
    public bool HasLiveLora => adapted is LoraSam && !Merged;

    public Device Device { get; }

    /// <summary>What was loaded, for logs.</summary>
    public string Description { get; }

    /// <summary>A model around an existing SAM (and its strategy's wrapper), e.g. one just trained.</summary>
    public static SegmentationModel FromModules(InferenceConfig config, Sam sam, AdaptedSam? adapted = null, bool mergeLora = false)
    {
        var device = sam.parameters().First().device;
        if (adapted is LoraSam lora && mergeLora)
        {
            LoraMerge.Merge(lora);
            return new SegmentationModel(config with { LoraRank = 0 }, sam, null, true, device, "in-memory model (LoRA merged)");
        }
        return new SegmentationModel(config, sam, adapted, false, device, adapted is null ? "in-memory SAM" : $"in-memory SAM ({adapted.Strategy})");
    }

    /// <summary>Builds and loads a model; every file problem is an exception naming the file.</summary>
    public static SegmentationModel Load(ModelLoadOptions options)
    {
        var device = TorchDevices.Parse(options.Device);
        return options.Checkpoint is not null ? LoadMerged(options, device) : LoadAdapted(options, device);
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
        if (adapted is not null)
            adapted.Dispose();
        else
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
                $"{checkpoint}: its configuration {configPath} is missing (export and full fine-tuning write it beside the checkpoint; or pass --config)", configPath);
        var config = Override(InferenceConfigFile.Load(configPath), options, configPath) with { LoraRank = 0 };
        // A merged LoRA, a tuned decoder or a full fine-tuning is a plain SAM; an exported adapter model keeps its adapters.
        var spec = config.ToSpec() with { Strategy = config.Strategy == Strategies.Adapter ? Strategies.Adapter : Strategies.Full };
        var model = ModelFactory.LoadComplete(spec, checkpoint, device);
        return new SegmentationModel(config, model.Sam, model, true, device, $"{config.ModelType} from merged checkpoint {checkpoint}");
    }

    private static SegmentationModel LoadAdapted(ModelLoadOptions options, Device device)
    {
        var (config, model) = BuildAdapted(options);
        try
        {
            var parts = new List<string> { options.SamCheckpoint is null ? $"random-init {config.ModelType} (seed {config.Seed})" : $"{config.ModelType} from {options.SamCheckpoint}" };
            if (options.LoraCheckpoint is not null)
                parts.Add($"{model.Strategy}{(model is LoraSam l ? $" rank {l.Rank}" : "")} from {options.LoraCheckpoint}");
            else
                config = config with { LoraRank = 0 };

            bool merged = false;
            if (model is LoraSam lora && options.MergeLora)
            {
                LoraMerge.Merge(lora);
                merged = true;
                parts.Add("merged into qkv");
            }
            model.to(device);
            return new SegmentationModel(config, model.Sam, merged ? null : model, merged, device, string.Join(", ", parts));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The configuration the options and the strategy checkpoint say, and its model on the CPU. The checkpoint is read
    /// once: the same tensors say what it holds and are loaded; they are released before the model moves on.
    /// </summary>
    private static (InferenceConfig Config, AdaptedSam Model) BuildAdapted(ModelLoadOptions options)
    {
        using var strategyCheckpoint = options.LoraCheckpoint is null ? null : new StrategyCheckpoint(options.LoraCheckpoint);
        var config = CheckpointModel.Resolve(options, strategyCheckpoint);
        var spec = config.ToSpec();
        // A full fine-tuning checkpoint holds the whole SAM; every other strategy needs SAM's pretrained encoder.
        if (options.SamCheckpoint is null && spec.Custom is null && SamBuilder.PretrainedTypes.Contains(spec.Size) && spec.Strategy != Strategies.Full)
            throw new ArgumentException($"{spec.Size} needs a SAM checkpoint (e.g. sam_{spec.Size}_*.pth): SAMed's image encoder is SAM's, frozen");

        if (options.LoraCheckpoint is null)
            spec = spec with { Strategy = Strategies.Decoder };
        return (config, ModelFactory.Create(spec, options.SamCheckpoint, strategyCheckpoint, device: null));
    }

    /// <summary>Applies explicit options over a configuration file's settings.</summary>
    internal static InferenceConfig Override(InferenceConfig config, ModelLoadOptions options, string source)
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
