using SAMed.Checkpoints;
using SAMed.Lora;
using SAMed.Modeling;
using SAMed.TorchInterop;
using TorchSharp;

namespace SAMed.Training;

/// <summary>Builds the SAMed model a configuration describes: SAM (pixel mean 0, std 1 as SAMed's train.py), LoRA, warm start.</summary>
public static class TrainingModel
{
    public static SamConfig Config(TrainConfig config) => config.VitName == "tiny"
        ? SamConfig.Tiny(config.ImgSize, config.NumClasses)
        : SamBuilder.Config(config.VitName, config.ImgSize, config.NumClasses) with { PixelMean = [0, 0, 0], PixelStd = [1, 1, 1] };

    /// <summary>
    /// Seeds torch with the run's seed (so random initialisation repeats on resume), builds SAM, loads the SAM
    /// checkpoint if any, wraps it in LoRA, loads the LoRA warm start if any, converts the frozen encoder to the
    /// run's precision (<see cref="TrainingPrecision"/>) and moves it to the device.
    /// </summary>
    public static LoraSam Create(TrainConfig config, torch.Device device)
    {
        using var pause = GcPause.Begin();
        torch.manual_seed(config.Seed);
        var samConfig = Config(config);
        samConfig.Validate();
        var sam = new Sam(samConfig);
        if (config.SamCheckpoint is not null)
            SamCheckpoint.LoadOfficial(sam, config.SamCheckpoint);
        var model = new LoraSam(sam, config.Rank);
        if (config.LoraCheckpoint is not null)
            model.LoadLora(config.LoraCheckpoint);
        TrainingPrecision.Apply(model, config.Precision);
        model.to(device);
        return model;
    }

    /// <summary>Every frozen tensor of the model (the image encoder's own weights).</summary>
    public static IEnumerable<TorchSharp.Modules.Parameter> Frozen(LoraSam model) =>
        model.parameters().Where(p => !p.requires_grad);
}
