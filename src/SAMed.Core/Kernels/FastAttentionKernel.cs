using SAMed.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Kernels;

/// <summary>
/// The encoder attention and LoRA projection with the hand-written kernels: the model's default
/// (<see cref="EncoderAttention.Kernel"/>). It computes what <see cref="PlainAttentionKernel"/> computes, with less
/// work and memory (docs/performance.md):
/// <list type="bullet">
/// <item>windowed blocks run qkv and proj on the real tokens only (SAM pads the normalised tokens with zeros first: a
/// padded token's projection is exactly the qkv bias, and proj acts token by token), 1024 instead of 1764 tokens for
/// vit_b at 512;</item>
/// <item>with frozen position tables (SAMed's recipe), attention goes through <see cref="RelPosAttention"/>, which
/// pads and partitions window by window and recomputes the softmax in backward;</item>
/// <item>LoRA's updates and the qkv projection form one autograd node (<see cref="LoraQkvProjection"/>).</item>
/// </list>
/// </summary>
public sealed class FastAttentionKernel : IAttentionKernel
{
    public static FastAttentionKernel Instance { get; } = new();

    private FastAttentionKernel()
    {
    }

    public Tensor Forward(EncoderAttention attention, Tensor x, int windowSize)
    {
        using var scope = torch.NewDisposeScope();
        // Windowed: the bias is added after padding, to the padded tokens too (a zero token projects to it).
        bool windowed = windowSize > 0;
        var fused = attention.Project(x, withBias: !windowed);
        var qkvBias = windowed ? attention.Qkv.bias : null;
        return attention.Proj(Attend(attention, fused, windowSize, qkvBias)).MoveToOuterDisposeScope();
    }

    public Tensor ProjectWithLora(Tensor input, Tensor weight, Tensor? bias, Tensor aQ, Tensor bQ, Tensor aV, Tensor bV) =>
        LoraQkvProjection.Project(input, weight, bias, aQ, bQ, aV, bV);

    /// <summary>
    /// Whether attention goes through <see cref="RelPosAttention"/> with autograd: when autograd will need the
    /// input's gradient and the position tables are frozen (SAMed's training), so that no [heads, L, L] softmax is kept
    /// for backward.
    /// </summary>
    public static bool UsesRelPosAttention(Tensor input, Tensor relPosH, Tensor relPosW) =>
        torch.is_grad_enabled() && input.requires_grad && !relPosH.requires_grad && !relPosW.requires_grad;

    /// <summary>
    /// Attention of fused projections [B, H, W, 3 * dim] over the whole grid (window size 0) or in SAM's zero-padded
    /// windows, <paramref name="qkvBias"/> (if any) added to every token, padded ones included: [B, H, W, dim].
    /// </summary>
    private static Tensor Attend(EncoderAttention attention, Tensor fused, int windowSize, Tensor? qkvBias)
    {
        using var scope = torch.NewDisposeScope();
        long height = fused.shape[1], width = fused.shape[2];
        var (gridH, gridW) = windowSize > 0 ? (windowSize, windowSize) : (height, width);
        if (HasFrozenRelPos(attention, out var tableH, out var tableW, gridH, gridW))
        {
            var result = UsesRelPosAttention(fused, attention.RelPosH!, attention.RelPosW!)
                ? RelPosAttention.Apply(fused, attention.NumHeads, tableH, tableW, windowSize, qkvBias)
                : RelPosAttention.Compute(fused, attention.NumHeads, tableH, tableW, windowSize, qkvBias);
            return result.MoveToOuterDisposeScope();
        }
        // Trainable position tables or none: SAM's attention through libtorch's autograd.
        if (windowSize == 0)
            return attention.Attend(qkvBias is null ? fused : fused + qkvBias).MoveToOuterDisposeScope();
        var (windows, padded) = EncoderBlock.WindowPartition(fused, windowSize);
        if (qkvBias is not null)
            windows = windows + qkvBias;
        return EncoderBlock.WindowUnpartition(attention.Attend(windows), windowSize, padded, (height, width)).MoveToOuterDisposeScope();
    }

    /// <summary>The position tables for an h x w grid when there are tables and they get no gradient.</summary>
    private static bool HasFrozenRelPos(EncoderAttention attention, out Tensor tableH, out Tensor tableW, long h, long w)
    {
        var (relPosH, relPosW) = (attention.RelPosH, attention.RelPosW);
        if (relPosH is null || relPosW is null || relPosH.requires_grad || relPosW.requires_grad)
        {
            tableH = tableW = null!;
            return false;
        }
        tableH = EncoderAttention.GetRelPos(h, h, relPosH);
        tableW = EncoderAttention.GetRelPos(w, w, relPosW);
        return true;
    }
}
