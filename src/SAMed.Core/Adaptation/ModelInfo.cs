namespace SAMed.Adaptation;

/// <summary>Sizes of an adapted model: parameters and the tensor bytes of its strategy checkpoint.</summary>
public sealed record ModelInfo(
    ModelSpec Spec,
    long TotalParameters,
    long TrainableParameters,
    long CheckpointBytes,
    int CheckpointTensors)
{
    /// <summary>Builds the model on the meta device (no storage), so even vit_h costs no memory.</summary>
    public static ModelInfo Of(ModelSpec spec)
    {
        using var model = ModelFactory.OnMeta(spec);
        var checkpoint = model.CheckpointTensors().ToList();
        return new ModelInfo(
            spec,
            TotalParameters: model.parameters().Sum(p => p.numel()),
            TrainableParameters: model.TrainableParameterCount(),
            CheckpointBytes: checkpoint.Sum(kv => kv.Value.numel() * kv.Value.ElementSize),
            CheckpointTensors: checkpoint.Count);
    }

    /// <summary>SAMed's LoRA model of a size (the lora strategy).</summary>
    public static ModelInfo Of(string modelType, int imageSize, int rank, int numClasses) =>
        Of(new ModelSpec { Size = modelType, ImgSize = imageSize, Rank = rank, NumClasses = numClasses });
}
