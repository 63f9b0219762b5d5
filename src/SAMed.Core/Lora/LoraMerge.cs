using SAMed.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Lora;

/// <summary>
/// Folds SAMed's LoRA updates into the frozen qkv projections for inference: per encoder block
/// W_q += B_q A_q (rows 0..dim of qkv.weight) and W_v += B_v A_v (the last dim rows). The result is a plain
/// <see cref="Sam"/> that computes the same function with no LoRA cost at run time.
/// </summary>
public static class LoraMerge
{
    /// <summary>
    /// Merges every block's LoRA matrices into its qkv weight (summed in float64, stored in the weight's type) and
    /// detaches the adapters. Afterwards <paramref name="model"/> must not be used or saved as a LoRA model: its
    /// w_a/w_b tensors are still there, but the SAM it wraps already contains them.
    /// </summary>
    public static Sam Merge(LoraSam model)
    {
        var blocks = model.Sam.ImageEncoder.Blocks;
        if (model.LoraCount != 2 * blocks.Count)
            throw new InvalidOperationException($"expected {2 * blocks.Count} LoRA pairs for {blocks.Count} blocks, found {model.LoraCount}");

        using var noGrad = torch.no_grad();
        for (int k = 0; k < blocks.Count; k++)
        {
            var attention = blocks[k].Attn;
            if (attention.QkvAdapter is null)
                throw new InvalidOperationException($"encoder block {k} has no LoRA adapter; the model was merged already");
            int dim = attention.Dim;
            var weight = attention.Qkv.weight!;
            var (aQ, bQ, aV, bV) = model.BlockMatrices(k);
            AddProduct(weight.narrow(0, 0, dim), bQ, aQ);
            AddProduct(weight.narrow(0, weight.shape[0] - dim, dim), bV, aV);
            attention.QkvAdapter = null;
        }
        return model.Sam;
    }

    /// <summary>target += b @ a, computed in float64.</summary>
    private static void AddProduct(Tensor target, Tensor b, Tensor a)
    {
        using var scope = torch.NewDisposeScope();
        var sum = target.to_type(ScalarType.Float64) + b.to_type(ScalarType.Float64).matmul(a.to_type(ScalarType.Float64));
        target.copy_(sum.to_type(target.dtype));
    }
}
