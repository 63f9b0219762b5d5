using SAMed.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Adaptation;

/// <summary>
/// Medical SAM Adapter (2D): in every encoder block an MLP_Adapter beside the MLP (scaled by 0.5) and a Space_Adapter
/// after attention, each Linear(D, D/4) -> GELU -> Linear(D/4, D) (<see cref="Modeling.Adapter"/>); the rest of the
/// encoder is frozen; adapters, prompt encoder and mask decoder train (Med-SA train.py: requires_grad only for names
/// containing "Adapter"; SAMed's decoder training). Owner of the adapter checkpoint format: the trainable tensors
/// under their full SAM names (image_encoder.blocks.N.MLP_Adapter.D_fc1.weight, ..., prompt_encoder.*, mask_decoder.*
/// parameters).
/// </summary>
public sealed class AdapterSam : AdaptedSam
{
    /// <summary>Med-SA's Adapter mlp_ratio: the bottleneck is a quarter of the block's width.</summary>
    public const double BottleneckRatio = 0.25;

    public AdapterSam(Sam sam) : base(nameof(AdapterSam), sam)
    {
        if (sam.ImageEncoder.Blocks.Any(b => b.SpaceAdapter is not null || b.Attn.QkvAdapter is not null))
            throw new InvalidOperationException("this Sam is adapted already; wrap a fresh Sam");
        FreezeImageEncoder(sam);
        var device = sam.ImageEncoder.Blocks[0].Attn.Qkv.weight!.device;
        foreach (var block in sam.ImageEncoder.Blocks)
        {
            int dim = block.Attn.Dim;
            block.AttachAdapters(
                new Adapter(dim, BottleneckRatio, skipConnect: false, device: device),
                new Adapter(dim, BottleneckRatio, skipConnect: true, device: device));
        }
    }

    public override string Strategy => Strategies.Adapter;

    public static bool IsAdapterKey(string key) =>
        key.StartsWith("image_encoder.blocks.", StringComparison.Ordinal)
        && (key.Contains(".MLP_Adapter.", StringComparison.Ordinal) || key.Contains(".Space_Adapter.", StringComparison.Ordinal));

    public override IEnumerable<(string name, Parameter p)> TrainableParameters() =>
        AdapterParameters().Concat(PromptEncoderAndDecoderParameters());

    /// <summary>Exactly the trainable parameters (no buffers: the prompt encoder's Gaussian matrix is SAM's).</summary>
    public override IEnumerable<KeyValuePair<string, Tensor>> CheckpointTensors() =>
        TrainableParameters().Select(t => new KeyValuePair<string, Tensor>(t.name, t.p));

    private IEnumerable<(string name, Parameter p)> AdapterParameters() =>
        Sam.named_parameters().Where(t => IsAdapterKey(t.name)).Select(t => (t.name, t.parameter));
}
