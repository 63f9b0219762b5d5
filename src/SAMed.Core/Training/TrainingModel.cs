using SAMed.Checkpoints;
using SAMed.Lora;
using SAMed.Modeling;
using TorchSharp;

namespace SAMed.Training;

/// <summary>Builds the SAMed model a configuration describes: SAM (pixel mean 0, std 1 as SAMed's train.py), LoRA, warm start.</summary>
public static class TrainingModel
{
    /// <summary>
    /// The tiny SAM for CPU runs and tests: a 4-block ViT of width 64 (patch 4, 4 heads, window 4, global blocks 1
    /// and 3) and a 32-wide prompt encoder and two-way decoder, with SAM's structure otherwise.
    /// </summary>
    public static SamConfig Tiny(int imageSize, int numClasses) => new()
    {
        ImageSize = imageSize,
        PatchSize = 4,
        EncoderEmbedDim = 64,
        EncoderDepth = 4,
        EncoderNumHeads = 4,
        WindowSize = 4,
        GlobalAttnIndexes = [1, 3],
        PromptEmbedDim = 32,
        MaskInChans = 4,
        DecoderHeads = 8,
        DecoderMlpDim = 64,
        IouHeadHiddenDim = 32,
        NumClasses = numClasses,
        PixelMean = [0, 0, 0],
        PixelStd = [1, 1, 1],
    };

    public static SamConfig Config(TrainConfig config) => config.VitName == "tiny"
        ? Tiny(config.ImgSize, config.NumClasses)
        : SamBuilder.Config(config.VitName, config.ImgSize, config.NumClasses) with { PixelMean = [0, 0, 0], PixelStd = [1, 1, 1] };

    /// <summary>
    /// Seeds torch with the run's seed (so random initialisation repeats on resume), builds SAM, loads the SAM
    /// checkpoint if any, wraps it in LoRA, loads the LoRA warm start if any, and moves it to the device.
    /// </summary>
    public static LoraSam Create(TrainConfig config, torch.Device device)
    {
        torch.manual_seed(config.Seed);
        var samConfig = Config(config);
        samConfig.Validate();
        var sam = new Sam(samConfig);
        if (config.SamCheckpoint is not null)
            SamCheckpoint.LoadOfficial(sam, config.SamCheckpoint);
        var model = new LoraSam(sam, config.Rank);
        if (config.LoraCheckpoint is not null)
            model.LoadLora(config.LoraCheckpoint);
        model.to(device);
        return model;
    }

    /// <summary>Every frozen tensor of the model (the image encoder's own weights).</summary>
    public static IEnumerable<TorchSharp.Modules.Parameter> Frozen(LoraSam model) =>
        model.parameters().Where(p => !p.requires_grad);
}
