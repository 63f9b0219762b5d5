using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SAMed.Modeling;

/// <summary>
/// softmax(q k^T / sqrt(d) + rel_h + rel_w) v, where the decomposed relative-position bias is computed from q and
/// fixed (frozen) position tables, as a custom autograd function for training.
/// <para>
/// With the bias as a float mask that needs a gradient, libtorch's scaled_dot_product_attention falls back to its
/// math path, which keeps every block's [heads, L, L] softmax for backward (318 MiB for vit_b at 512 x 512). Here the
/// forward runs the fused kernel without autograd and keeps only q, k, v and the output; backward recomputes the
/// softmax once, in the manner of flash attention, and forms the bias gradient's share of dq directly.
/// </para>
/// </summary>
public sealed class RelPosAttention : autograd.SingleTensorFunction<RelPosAttention>
{
    // Gradients handed to libtorch by the previous backward call: libtorch holds its own references once a callback
    // has returned, so their .NET handles can go at the next call instead of waiting for the garbage collector.
    [ThreadStatic]
    private static List<Tensor>? handedOver;

    private const string ReleasedKey = "released";

    public override string Name => nameof(RelPosAttention);

    /// <summary>
    /// q, k, v [B, heads, L = H * W, head_dim]; tables from <see cref="EncoderAttention.GetRelPos"/>: relPosH
    /// [qH, kH, head_dim], relPosW [qW, kW, head_dim]. The tables get no gradient.
    /// </summary>
    /// <param name="keepProbabilities">
    /// Keep the softmax for backward instead of recomputing it: faster backward for the price of [B, heads, Lq, Lk]
    /// floats (worth it for small windows; the encoder keeps it for its windowed blocks only).
    /// </param>
    public static Tensor Apply(Tensor q, Tensor k, Tensor v, Tensor relPosH, Tensor relPosW, (long H, long W) qSize, (long H, long W) kSize, bool keepProbabilities = false) =>
        apply(q, k, v, relPosH, relPosW, qSize.H, qSize.W, kSize.H, kSize.W, keepProbabilities);

    /// <summary>
    /// The same attention without autograd (inference): the bias is built and used in chunks of (batch x head)
    /// groups, which are reused from the heap instead of one [B, heads, L, L] mapping per block.
    /// </summary>
    public static Tensor Compute(Tensor q, Tensor k, Tensor v, Tensor relPosH, Tensor relPosW, (long H, long W) qSize, (long H, long W) kSize)
    {
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var (q3, k3, v3) = Grouped(q, k, v);
        var output3 = torch.empty(q3.shape[0], q3.shape[1], v3.shape[2], dtype: q.dtype, device: q.device);
        foreach (var (start, length) in Chunks(q3.shape[0], q3.shape[1], k3.shape[1]))
        {
            using var chunkScope = NewDisposeScope();
            var qc = q3.narrow(0, start, length);
            var bias = EncoderAttention.DecomposedRelPosBiasFromTables(qc, relPosH, relPosW, qSize, kSize);
            var attended = F.scaled_dot_product_attention(qc.unsqueeze(0), k3.narrow(0, start, length).unsqueeze(0), v3.narrow(0, start, length).unsqueeze(0), bias.unsqueeze(0));
            output3.narrow(0, start, length).copy_(attended[0]);
        }
        return output3.view(q.shape[0], q.shape[1], q.shape[2], v.shape[3]).MoveToOuterDisposeScope();
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (q, k, v, relPosH, relPosW, qSize, kSize) = Unpack(vars);
        if ((bool)vars[9])
        {
            // The probabilities outlive this call (saved after it returns); the caller's dispose scope frees the handle.
            var (q3, k3, v3) = Grouped(q, k, v);
            using var scale = (1.0 / Math.Sqrt(q.shape[3])).ToScalar();
            var probabilities = Probabilities(q3, k3, relPosH, relPosW, qSize, kSize, scale);
            using var output3 = torch.bmm(probabilities, v3);
            ctx.save_for_backward([q, k, v, relPosH, relPosW, probabilities]);
            ctx.save_data("sizes", new[] { qSize.H, qSize.W, kSize.H, kSize.W });
            return output3.view(q.shape[0], q.shape[1], q.shape[2], v.shape[3]);
        }
        var output = Compute(q, k, v, relPosH, relPosW, qSize, kSize);
        ctx.save_for_backward([q, k, v, relPosH, relPosW]);
        ctx.save_data("sizes", new[] { qSize.H, qSize.W, kSize.H, kSize.W });
        return output;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        DisposeHandedOver();
        if (ctx.get_data(ReleasedKey) is true)
            throw new InvalidOperationException($"{Name}: its saved tensors were freed by an earlier backward (retain_graph is not supported)");
        var saved = ctx.get_saved_variables();
        var sizes = (long[])ctx.get_data("sizes");
        (long H, long W) qSize = (sizes[0], sizes[1]), kSize = (sizes[2], sizes[3]);
        Tensor dq, dk, dv;
        using (var scope = NewDisposeScope())
        {
            var (q, k, v, relPosH, relPosW) = (saved[0], saved[1], saved[2], saved[3], saved[4]);
            var kept = saved.Count > 5 ? saved[5] : null;
            var (q3, k3, v3) = Grouped(q, k, v);
            var gradOut3 = gradOutput.reshape(v3.shape[0], q3.shape[1], v3.shape[2]);
            var dq3 = torch.empty_like(q3);
            var dk3 = torch.empty_like(k3);
            var dv3 = torch.empty_like(v3);
            using var scale = (1.0 / Math.Sqrt(q.shape[3])).ToScalar();
            using var minusOne = (-1.0).ToScalar();
            foreach (var (start, length) in Chunks(q3.shape[0], q3.shape[1], k3.shape[1]))
            {
                using var chunkScope = NewDisposeScope();
                var qc = q3.narrow(0, start, length);
                var kc = k3.narrow(0, start, length);
                var gradOutC = gradOut3.narrow(0, start, length);
                var probabilities = kept?.narrow(0, start, length) ?? Probabilities(qc, kc, relPosH, relPosW, qSize, kSize, scale);
                dv3.narrow(0, start, length).copy_(torch.bmm(probabilities.transpose(1, 2), gradOutC));

                // dS = P * (dP - rowsum(P * dP)), built in dP's buffer.
                var gradScores = torch.bmm(gradOutC, v3.narrow(0, start, length).transpose(1, 2));
                gradScores.mul_(probabilities);
                var rowSums = gradScores.sum(-1, keepdim: true);
                gradScores.addcmul_(probabilities, rowSums, minusOne);
                probabilities.Dispose();

                // TorchSharp 0.107's baddbmm hands its arguments to libtorch in another order: bmm, mul_ and add_.
                var dqc = torch.bmm(gradScores, kc).mul_(scale).add_(BiasGradientOnQ(gradScores, relPosH, relPosW, qSize, kSize));
                dq3.narrow(0, start, length).copy_(dqc);
                dk3.narrow(0, start, length).copy_(torch.bmm(gradScores.transpose(1, 2), qc).mul_(scale));
            }
            dq = dq3.view(q.shape).MoveToOuterDisposeScope();
            dk = dk3.view(k.shape).MoveToOuterDisposeScope();
            dv = dv3.view(v.shape).MoveToOuterDisposeScope();
        }
        foreach (var tensor in saved)
            tensor.Dispose();
        // Frees q, k and v now, as libtorch's own nodes do after their backward.
        ctx.save_data(ReleasedKey, true);
        ctx.Dispose();
        gradOutput.Dispose();
        handedOver = [dq, dk, dv];
        return [dq, dk, dv, null!, null!, null!, null!, null!, null!, null!];
    }

    /// <summary>
    /// Ranges of the (batch x head) groups such that one [groups, Lq, Lk] buffer stays near
    /// <see cref="ChunkBytes"/>: small enough to come from the heap and be reused, instead of a fresh mapping per
    /// buffer, and to keep the step's peak down.
    /// </summary>
    public static IEnumerable<(long Start, long Length)> Chunks(long groups, long queries, long keys)
    {
        long perGroup = Math.Max(1, queries * keys * sizeof(float));
        long maxPerChunk = Math.Max(1, ChunkBytes / perGroup);
        long chunks = (groups + maxPerChunk - 1) / maxPerChunk;
        long length = (groups + chunks - 1) / chunks;
        for (long start = 0; start < groups; start += length)
            yield return (start, Math.Min(length, groups - start));
    }

    /// <summary>Target size of one attention-matrix buffer (see <see cref="Chunks"/>).</summary>
    public const long ChunkBytes = 8L << 20;

    /// <summary>q, k, v [B, heads, L, d] as [B * heads, L, d] (views where the layout allows).</summary>
    private static (Tensor Q3, Tensor K3, Tensor V3) Grouped(Tensor q, Tensor k, Tensor v)
    {
        long groups = q.shape[0] * q.shape[1];
        return (q.reshape(groups, q.shape[2], q.shape[3]), k.reshape(groups, k.shape[2], k.shape[3]), v.reshape(groups, v.shape[2], v.shape[3]));
    }

    /// <summary>Disposes the .NET handles of the gradients the last backward call on this thread returned.</summary>
    private static void DisposeHandedOver()
    {
        if (handedOver is null)
            return;
        foreach (var tensor in handedOver)
            tensor.Dispose();
        handedOver = null;
    }

    /// <summary>softmax(q k^T * scale + rel_h + rel_w) for one chunk of groups, [groups, Lq, Lk].</summary>
    private static Tensor Probabilities(Tensor q3, Tensor k3, Tensor relPosH, Tensor relPosW, (long H, long W) qSize, (long H, long W) kSize, Scalar scale)
    {
        using var scores = torch.bmm(q3, k3.transpose(1, 2));
        using (var bias = EncoderAttention.DecomposedRelPosBiasFromTables(q3, relPosH, relPosW, qSize, kSize))
            scores.mul_(scale).add_(bias);
        return scores.softmax(-1);
    }

    /// <summary>d(rel_h + rel_w)/dq applied to dS: sum dS over the key columns (rows) and map back through the tables.</summary>
    private static Tensor BiasGradientOnQ(Tensor gradScores, Tensor relPosH, Tensor relPosW, (long H, long W) qSize, (long H, long W) kSize)
    {
        long bh = gradScores.shape[0];
        using var grid = gradScores.view(bh, qSize.H, qSize.W, kSize.H, kSize.W);
        using var gradRelH = grid.sum(-1);
        using var gradRelW = grid.sum(-2);
        using var fromH = torch.einsum("bhwk,hkc->bhwc", gradRelH, relPosH);
        using var fromW = torch.einsum("bhwk,wkc->bhwc", gradRelW, relPosW);
        return fromH.add_(fromW).reshape(bh, qSize.H * qSize.W, -1);
    }

    private static (Tensor Q, Tensor K, Tensor V, Tensor RelPosH, Tensor RelPosW, (long H, long W) QSize, (long H, long W) KSize) Unpack(object[] vars) =>
        ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], (Tensor)vars[4],
            ((long)vars[5], (long)vars[6]), ((long)vars[7], (long)vars[8]));
}
