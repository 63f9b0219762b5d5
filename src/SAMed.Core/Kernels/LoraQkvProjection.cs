using SAMed.Modeling;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Kernels;

/// <summary>
/// qkv(x) with SAMed's LoRA updates on its q and v slices, as one autograd node:
/// x W^T (+ bias), then q += B_q A_q x and v += B_v A_v x. Its specification is SAMed's _LoRA_qkv through libtorch's
/// autograd (<see cref="PlainAttentionKernel.ProjectWithLora"/>).
/// <para>
/// Through libtorch's autograd the updates are in-place additions to slices of the qkv output. Their backward
/// (CopySlices) clones the whole [tokens, 3 * dim] gradient once per slice, and the LoRA input gradient is one more
/// product and addition on top of the frozen projection's. Here backward takes the q and v gradients as views of the
/// incoming one, adds the LoRA share to the frozen projection's input gradient inside the same buffer, and forms the
/// four weight gradients from the rank-sized intermediates (x A^T, saved from forward, and dq B_q, dv B_v).
/// </para>
/// </summary>
public sealed class LoraQkvProjection : autograd.SingleTensorFunction<LoraQkvProjection>
{
    private static readonly CustomBackward bookkeeping = new(nameof(LoraQkvProjection));

    private const string NeedsGradKey = "needs_grad";

    public override string Name => nameof(LoraQkvProjection);

    /// <summary>
    /// [..., 3 * dim] from <paramref name="input"/> [..., dim], the qkv <paramref name="weight"/> [3 * dim, dim] and
    /// <paramref name="bias"/> (none: the caller adds it later; both frozen in SAMed, with gradients if a caller
    /// unfroze them), and the rank-r matrices A [r, dim], B [dim, r].
    /// With autograd when gradients are enabled; the LoRA matrices may be float32 under a reduced-precision input
    /// (they are cast to the input's type, and their gradients come back in their own).
    /// </summary>
    public static Tensor Project(Tensor input, Tensor weight, Tensor? bias, Tensor aQ, Tensor bQ, Tensor aV, Tensor bV)
    {
        Tensor?[] inputs = [input, weight, bias, aQ, bQ, aV, bV];
        if (torch.is_grad_enabled() && inputs.Any(t => t?.requires_grad == true))
            return apply(input, weight, bias!, aQ, bQ, aV, bV);
        using var scope = NewDisposeScope();
        return Compute(input, weight, bias, aQ, bQ, aV, bV).Projection.MoveToOuterDisposeScope();
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (input, weight, bias) = ((Tensor)vars[0], (Tensor)vars[1], vars[2] as Tensor);
        var (aQ, bQ, aV, bV) = ((Tensor)vars[3], (Tensor)vars[4], (Tensor)vars[5], (Tensor)vars[6]);
        var (projection, lowRank) = Compute(input, weight, bias, aQ, bQ, aV, bV);
        ctx.save_for_backward([input, weight, lowRank, aQ, bQ, aV, bV]);
        // SAMed's encoder is frozen; its weight and bias get gradients only if a caller unfroze them.
        ctx.save_data(NeedsGradKey, (Input: input.requires_grad, Weight: weight.requires_grad, Bias: bias?.requires_grad == true));
        return projection;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = bookkeeping.Begin(ctx);
        var needsGrad = ((bool Input, bool Weight, bool Bias))ctx.get_data(NeedsGradKey);
        Tensor? gradInput = null, gradWeight = null, gradBias = null;
        Tensor gradAQ, gradBQ, gradAV, gradBV;
        using (var scope = NewDisposeScope())
        {
            var (input, weight, lowRank) = (saved[0], saved[1], saved[2]);
            var (aQ, bQ, aV, bV) = (saved[3], saved[4], saved[5], saved[6]);
            long dim = input.shape[^1], rank = aQ.shape[0];
            var type = input.dtype;
            var x = input.reshape(-1, dim);
            var grad = gradOutput.reshape(-1, weight.shape[0]);
            var gradQ = grad.narrow(1, 0, dim);
            var gradV = grad.narrow(1, weight.shape[0] - dim, dim);

            // d(x A^T): [tokens, 2r], q's columns first. The thin products are formed transposed, (B^T dq^T)^T and
            // (low^T dq)^T below: MKL runs them with the wide operand untransposed, two to three times faster.
            var gradLowRank = torch.cat([As(bQ, type).t().mm(gradQ.t()).t(), As(bV, type).t().mm(gradV.t()).t()], 1);
            if (needsGrad.Weight)
                gradWeight = grad.t().mm(x).MoveToOuterDisposeScope();
            if (needsGrad.Bias)
                gradBias = grad.sum(0, keepdim: false).MoveToOuterDisposeScope();
            if (needsGrad.Input)
            {
                gradInput = grad.mm(weight);
                gradInput.addmm_(gradLowRank, StackedA(aQ, aV, type));
                gradInput = gradInput.view(input.shape).MoveToOuterDisposeScope();
            }
            var gradA = gradLowRank.t().mm(x);
            gradAQ = gradA.narrow(0, 0, rank).to_type(aQ.dtype).MoveToOuterDisposeScope();
            gradAV = gradA.narrow(0, rank, rank).to_type(aV.dtype).MoveToOuterDisposeScope();
            gradBQ = lowRank.narrow(1, 0, rank).t().mm(gradQ).t().to_type(bQ.dtype).MoveToOuterDisposeScope();
            gradBV = lowRank.narrow(1, rank, rank).t().mm(gradV).t().to_type(bV.dtype).MoveToOuterDisposeScope();
        }
        bookkeeping.End(ctx, saved, gradOutput, gradInput, gradWeight, gradBias, gradAQ, gradBQ, gradAV, gradBV);
        return [gradInput!, gradWeight!, gradBias!, gradAQ, gradBQ, gradAV, gradBV];
    }

    /// <summary>The projection [..., 3 * dim] and x A^T [tokens, 2r] (q's rank first) that backward needs.</summary>
    private static (Tensor Projection, Tensor LowRank) Compute(Tensor input, Tensor weight, Tensor? bias, Tensor aQ, Tensor bQ, Tensor aV, Tensor bV)
    {
        long dim = input.shape[^1], rank = aQ.shape[0], outputs = weight.shape[0];
        var type = input.dtype;
        using var x = input.reshape(-1, dim);
        var projection = bias is null ? x.mm(weight.t()) : torch.addmm(bias, x, weight.t(), 1, 1);
        var lowRank = x.mm(StackedA(aQ, aV, type).t());
        // Written straight into the q and v columns (the row stride of a column slice is a valid leading dimension).
        projection.narrow(1, 0, dim).addmm_(lowRank.narrow(1, 0, rank), As(bQ, type).t());
        projection.narrow(1, outputs - dim, dim).addmm_(lowRank.narrow(1, rank, rank), As(bV, type).t());
        long[] shape = [.. input.shape[..^1], outputs];
        return (projection.view(shape), lowRank);
    }

    /// <summary>A_q over A_v, [2r, dim], in <paramref name="type"/>: one product forms x A^T for both.</summary>
    private static Tensor StackedA(Tensor aQ, Tensor aV, ScalarType type) => torch.cat([As(aQ, type), As(aV, type)], 0);

    private static Tensor As(Tensor weight, ScalarType type) => weight.dtype == type ? weight : weight.to_type(type);
}
