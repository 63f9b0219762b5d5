using SAMed.Checkpoints;
using SAMed.Modeling;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Adaptation;

/// <summary>
/// The one place a model is built: SAM from a <see cref="ModelSpec"/>, the SAM checkpoint with SAMed's resizing,
/// the strategy's modules and its checkpoint, the frozen encoder's precision, the device.
/// </summary>
public static class ModelFactory
{
    /// <summary>
    /// Seeds torch with the spec's seed (so a random-initialised encoder repeats), builds SAM, loads
    /// <paramref name="samCheckpoint"/> (if given) as SAMed's build_sam does, or completely in the promptable mode, attaches the strategy, loads
    /// <paramref name="strategyCheckpoint"/> (if given), converts a frozen encoder to the spec's precision and moves
    /// the model to <paramref name="device"/>.
    /// </summary>
    public static AdaptedSam Create(ModelSpec spec, string? samCheckpoint = null, string? strategyCheckpoint = null, Device? device = null) =>
        Build(spec, samCheckpoint, strategyCheckpoint is null ? null : model => model.LoadCheckpoint(strategyCheckpoint), device);

    /// <summary>
    /// As <see cref="Create(ModelSpec, string?, string?, Device?)"/> with the strategy's checkpoint as its caller holds
    /// it (read once, e.g. for its contents before the spec was decided, and loaded from the same tensors).
    /// </summary>
    public static AdaptedSam Create(ModelSpec spec, string? samCheckpoint, StrategyCheckpoint? strategyCheckpoint, Device? device = null) =>
        Build(spec, samCheckpoint, strategyCheckpoint is null ? null : model => model.LoadCheckpoint(strategyCheckpoint), device);

    private static AdaptedSam Build(ModelSpec spec, string? samCheckpoint, Action<AdaptedSam>? loadStrategyCheckpoint, Device? device)
    {
        spec.Validate("model");
        using var pause = GcPause.Begin();
        torch.manual_seed(spec.Seed);
        var sam = new Sam(spec.Architecture);
        AdaptedSam? model = null;
        try
        {
            if (samCheckpoint is not null && spec.Mode == ModelSpec.PromptableMode)
                SamCheckpoint.LoadComplete(sam, samCheckpoint);
            else if (samCheckpoint is not null)
                SamCheckpoint.LoadOfficial(sam, samCheckpoint);
            model = Adapt(sam, spec);
            model.Spec = spec;
            loadStrategyCheckpoint?.Invoke(model);
            TrainingPrecision.Apply(model, spec.Precision);
            if (device is not null)
                model.to(device);
            return model;
        }
        catch
        {
            if (model is not null)
                model.Dispose();
            else
                sam.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A self-contained model: a complete SAM state dict (an export, or a full fine-tuning checkpoint; with Med-SA's
    /// adapters under their names for the adapter strategy) loaded exactly into the spec's architecture.
    /// </summary>
    public static AdaptedSam LoadComplete(ModelSpec spec, string checkpoint, Device? device = null)
    {
        spec.Validate("model");
        using var pause = GcPause.Begin();
        var model = Adapt(new Sam(spec.Architecture), spec);
        try
        {
            model.Spec = spec;
            SamCheckpoint.LoadOfficial(model.Sam, checkpoint);
            if (device is not null)
                model.to(device);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The model on the meta device (shapes, no storage): counts and checkpoint sizes of any size cost no memory.</summary>
    public static AdaptedSam OnMeta(ModelSpec spec)
    {
        spec.Validate("model");
        return Adapt(new Sam(spec.Architecture, new Device(DeviceType.META)), spec);
    }

    /// <summary>Wraps a SAM in the spec's strategy (freezing what the strategy freezes).</summary>
    public static AdaptedSam Adapt(Sam sam, ModelSpec spec) => spec.Strategy switch
    {
        Strategies.Lora => new Lora.LoraSam(sam, spec.Rank),
        Strategies.Adapter => new AdapterSam(sam),
        Strategies.Decoder => new DecoderSam(sam),
        Strategies.Full => new FullSam(sam),
        _ => throw new ArgumentException($"strategy '{spec.Strategy}' must be one of {string.Join(", ", Strategies.Names)}"),
    };
}
