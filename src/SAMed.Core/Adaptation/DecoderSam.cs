using SAMed.Modeling;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Adaptation;

/// <summary>
/// Decoder-only tuning: the whole image encoder frozen, prompt encoder and mask decoder trained. Its checkpoint is
/// SAMed's LoRA checkpoint without the LoRA keys: every prompt_encoder.* and mask_decoder.* tensor.
/// </summary>
public sealed class DecoderSam : AdaptedSam
{
    public DecoderSam(Sam sam) : base(nameof(DecoderSam), sam)
    {
        FreezeImageEncoder(sam);
    }

    public override string Strategy => Strategies.Decoder;

    public override IEnumerable<(string name, Parameter p)> TrainableParameters() => PromptEncoderAndDecoderParameters();

    public override IEnumerable<KeyValuePair<string, Tensor>> CheckpointTensors() => PromptEncoderAndDecoderState();
}
