using SAMed.Checkpoints;
using SAMed.Modeling;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Adaptation;

/// <summary>
/// Full fine-tuning: every SAM parameter trains. Its checkpoint is a complete SAM state dict in the official key
/// layout, with num_classes + 1 mask tokens (loadable by SAM's builders when num_multimask_outputs matches).
/// </summary>
public sealed class FullSam : AdaptedSam
{
    public FullSam(Sam sam) : base(nameof(FullSam), sam)
    {
        foreach (var (_, parameter) in sam.named_parameters())
            parameter.requires_grad = true;
    }

    public override string Strategy => Strategies.Full;

    public override IEnumerable<(string name, Parameter p)> TrainableParameters() =>
        Sam.named_parameters().Select(t => (t.name, t.parameter));

    public override IEnumerable<KeyValuePair<string, Tensor>> CheckpointTensors() => ModuleStateDict.Ordered(Sam);
}
