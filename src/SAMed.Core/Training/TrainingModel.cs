using SAMed.Adaptation;
using TorchSharp;

namespace SAMed.Training;

/// <summary>The model a training configuration trains, built by <see cref="ModelFactory"/>.</summary>
public static class TrainingModel
{
    /// <summary>
    /// Builds <see cref="TrainConfig.Model"/> with the run's SAM checkpoint and warm start (lora_checkpoint, any
    /// strategy's checkpoint) on <paramref name="device"/>; the seed makes a random-initialised encoder repeat on resume.
    /// </summary>
    public static AdaptedSam Create(TrainConfig config, torch.Device device) =>
        ModelFactory.Create(config.Model, config.SamCheckpoint, config.LoraCheckpoint, device);
}
