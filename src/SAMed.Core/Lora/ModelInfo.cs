using SAMed.Modeling;
using TorchSharp;

namespace SAMed.Lora;

/// <summary>Sizes of a SAMed model: parameters and the tensor bytes of its LoRA checkpoint.</summary>
public sealed record ModelInfo(
    string ModelType,
    int ImageSize,
    int Rank,
    int NumClasses,
    long TotalParameters,
    long TrainableParameters,
    long LoraCheckpointBytes,
    int LoraCheckpointTensors)
{
    /// <summary>Builds the model on the meta device (no storage), so even vit_h costs no memory.</summary>
    public static ModelInfo Of(string modelType, int imageSize, int rank, int numClasses)
    {
        var meta = new torch.Device(DeviceType.META);
        using var sam = SamBuilder.Create(modelType, imageSize, numClasses, meta);
        using var lora = new LoraSam(sam, rank);
        var checkpoint = lora.LoraStateDict().ToList();
        return new ModelInfo(
            modelType,
            imageSize,
            rank,
            numClasses,
            TotalParameters: lora.parameters().Sum(p => p.numel()),
            TrainableParameters: lora.TrainableParameterCount(),
            LoraCheckpointBytes: checkpoint.Sum(kv => kv.Value.numel() * kv.Value.ElementSize),
            LoraCheckpointTensors: checkpoint.Count);
    }
}
