using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SAMed.Modeling;

/// <summary>
/// The computations of an encoder attention block that have a hand-written form: the block's attention in its
/// windows and LoRA's fused qkv projection. The model reaches them only through this interface
/// (<see cref="EncoderAttention.Kernel"/>); <see cref="PlainAttentionKernel"/> is SAM's and SAMed's PyTorch, the
/// specification, and SAMed.Kernels.FastAttentionKernel computes the same with hand-written autograd functions.
/// </summary>
public interface IAttentionKernel
{
    /// <summary>
    /// SAM's Block.forward between norm1 and the residual: window_partition (window size &gt; 0), attn,
    /// window_unpartition. [B, H, W, dim] normalised tokens to [B, H, W, dim] after the output projection.
    /// </summary>
    Tensor Forward(EncoderAttention attention, Tensor x, int windowSize);

    /// <summary>
    /// SAMed's _LoRA_qkv: x W^T (+ <paramref name="bias"/>, if any), then q += B_q A_q x and v += B_v A_v x,
    /// [..., 3 * dim]. The LoRA matrices (A [r, dim], B [dim, r]) may be float32 under a reduced-precision input: they
    /// are cast to the input's type.
    /// </summary>
    Tensor ProjectWithLora(Tensor input, Tensor weight, Tensor? bias, Tensor aQ, Tensor bQ, Tensor aV, Tensor bV);
}

/// <summary>
/// SAM's encoder attention and SAMed's LoRA as their PyTorch code writes them, through libtorch's autograd: the
/// reference the hand-written kernels are tested against.
/// </summary>
public sealed class PlainAttentionKernel : IAttentionKernel
{
    public static PlainAttentionKernel Instance { get; } = new();

    private PlainAttentionKernel()
    {
    }

    /// <summary>segment_anything/modeling/image_encoder.py, Block.forward: the zero-padded windows go through attn.</summary>
    public Tensor Forward(EncoderAttention attention, Tensor x, int windowSize)
    {
        if (windowSize == 0)
            return attention.forward(x);
        using var scope = torch.NewDisposeScope();
        var (windows, padded) = EncoderBlock.WindowPartition(x, windowSize);
        var attended = attention.forward(windows);
        return EncoderBlock.WindowUnpartition(attended, windowSize, padded, (x.shape[1], x.shape[2])).MoveToOuterDisposeScope();
    }

    /// <summary>SAMed's sam_lora_image_encoder.py, _LoRA_qkv.forward: the updates added in place to the q and v slices of qkv(x).</summary>
    public Tensor ProjectWithLora(Tensor input, Tensor weight, Tensor? bias, Tensor aQ, Tensor bQ, Tensor aV, Tensor bV)
    {
        using var scope = torch.NewDisposeScope();
        long dim = input.shape[^1];
        var type = input.dtype;
        var qkv = F.linear(input, weight, bias);
        var newQ = F.linear(F.linear(input, As(aQ, type)), As(bQ, type));
        var newV = F.linear(F.linear(input, As(aV, type)), As(bV, type));
        qkv.narrow(-1, 0, dim).add_(newQ);
        qkv.narrow(-1, qkv.shape[^1] - dim, dim).add_(newV);
        return qkv.MoveToOuterDisposeScope();
    }

    private static Tensor As(Tensor weight, ScalarType type) => weight.dtype == type ? weight : weight.to_type(type);
}
