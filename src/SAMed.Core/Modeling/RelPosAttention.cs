using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SAMed.Modeling;

/// <summary>
/// SAM's encoder attention on fused projections: softmax(q k^T / sqrt(d) + rel_h + rel_w) v, where the decomposed
/// relative-position bias is computed from q and fixed (frozen) position tables. A custom autograd function for
/// training, and the same computation without autograd for inference.
/// <para>
/// With the bias as a float mask that needs a gradient, libtorch's scaled_dot_product_attention falls back to its
/// math path, which keeps every block's [heads, L, L] softmax for backward (318 MiB for vit_b at 512 x 512). Here the
/// forward keeps only the fused q/k/v input; backward recomputes the softmax chunk by chunk, in the manner of flash
/// attention, and forms the bias gradient's share of dq directly. Optionally the softmax is kept instead (small
/// windows, where recomputing costs the most per byte).
/// </para>
/// <para>
/// Input and output stay in the projection layouts ([B, H, W, 3 * dim] in, [B, H, W, dim] out, heads interleaved
/// per token), and the gradient is written straight into the fused layout, so no head split or merge is copied.
/// </para>
/// </summary>
public sealed class RelPosAttention : autograd.SingleTensorFunction<RelPosAttention>
{
    // Gradients handed to libtorch by the previous backward call: libtorch holds its own references once a callback
    // has returned, so their .NET handles can go at the next call instead of waiting for the garbage collector.
    [ThreadStatic]
    private static List<Tensor>? handedOver;

    private const string ReleasedKey = "released";
    private const string LayoutKey = "layout";
    private const string GridKey = "grid";

    public override string Name => nameof(RelPosAttention);

    /// <summary>Target size of one attention-matrix buffer (see <see cref="Chunks"/>).</summary>
    public const long ChunkBytes = 8L << 20;

    /// <summary>
    /// Attention with autograd. <paramref name="fused"/> [B, H, W, 3 * heads * d] holds q, k and v as qkv produces
    /// them; tables from <see cref="EncoderAttention.GetRelPos"/> (for the attended grid: the window, or H and W)
    /// get no gradient. Returns [B, H, W, heads * d], before the output projection.
    /// </summary>
    /// <param name="keepProbabilities">
    /// Keep the softmax for backward instead of recomputing it: faster backward for the price of [windows, heads, L, L]
    /// floats (the encoder keeps it for its windowed blocks).
    /// </param>
    /// <param name="windowSize">
    /// 0: attend over the whole grid. Otherwise SAM's window attention: the grid is padded to whole windows, padded
    /// tokens projecting to <paramref name="qkvBias"/>, which is then added to every token (so <paramref name="fused"/>
    /// comes without it); only the unpadded input is kept for backward, which partitions it again.
    /// </param>
    public static Tensor Apply(Tensor fused, int heads, Tensor relPosH, Tensor relPosW, bool keepProbabilities = false, int windowSize = 0, Tensor? qkvBias = null) =>
        apply(fused, relPosH, relPosW, qkvBias!, heads, keepProbabilities, windowSize);

    /// <summary>The same attention without autograd (inference).</summary>
    public static Tensor Compute(Tensor fused, int heads, Tensor relPosH, Tensor relPosW, int windowSize = 0, Tensor? qkvBias = null)
    {
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        var grid = Grid.Of(fused, windowSize);
        var attended = Attend(Layout.Of(grid.Windows(fused, qkvBias), heads), relPosH, relPosW, keep: null);
        return grid.Merge(attended).MoveToOuterDisposeScope();
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (fused, relPosH, relPosW, qkvBias) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], vars[3] as Tensor);
        var grid = Grid.Of(fused, (int)vars[6]);
        Tensor output;
        Tensor? kept;
        using (var scope = NewDisposeScope())
        {
            var layout = Layout.Of(grid.Windows(fused, qkvBias), (int)vars[4]);
            kept = (bool)vars[5] ? torch.empty([layout.Groups, layout.Heads, layout.Tokens, layout.Tokens], dtype: fused.dtype, device: fused.device) : null;
            output = grid.Merge(Attend(layout, relPosH, relPosW, kept)).MoveToOuterDisposeScope();
            kept?.MoveToOuterDisposeScope();
            ctx.save_data(LayoutKey, layout with { Fused = null! });
        }
        // Saved after forward returns: the tensors must outlive this call (the caller's dispose scope frees the handles).
        ctx.save_for_backward([fused, relPosH, relPosW, qkvBias!, kept!]);
        ctx.save_data(GridKey, grid);
        return output;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        DisposeHandedOver();
        if (ctx.get_data(ReleasedKey) is true)
            throw new InvalidOperationException($"{Name}: its saved tensors were freed by an earlier backward (retain_graph is not supported)");
        var saved = ctx.get_saved_variables();
        Tensor gradFused;
        using (var scope = NewDisposeScope())
        {
            var (fused, relPosH, relPosW, qkvBias, kept) = (saved[0], saved[1], saved[2], saved[3], saved[4]);
            var grid = (Grid)ctx.get_data(GridKey);
            var layout = (Layout)ctx.get_data(LayoutKey) with { Fused = grid.Windows(fused, qkvBias) };
            var gradOut = grid.Split(gradOutput).reshape(layout.Groups, layout.Tokens, layout.Heads, layout.HeadDim);
            var grad = torch.empty([layout.Groups, layout.Tokens, 3, layout.Heads, layout.HeadDim], dtype: gradOutput.dtype, device: gradOutput.device);
            using var scale = (1.0 / Math.Sqrt(layout.HeadDim)).ToScalar();
            using var minusOne = (-1.0).ToScalar();
            foreach (var chunk in layout.Chunks())
            {
                using var chunkScope = NewDisposeScope();
                var (q, k, v) = layout.Slices(chunk);
                var gradOutC = HeadsFirst(gradOut, chunk);
                var probabilities = kept?[chunk.Group].narrow(0, chunk.Head, chunk.Count)
                    ?? Probabilities(q, k, relPosH, relPosW, layout.Size, scale);
                HeadsFirst(grad, chunk, 2).copy_(torch.bmm(probabilities.transpose(1, 2), gradOutC));

                // dS = P * (dP - rowsum(P * dP)), built in dP's buffer.
                var gradScores = torch.bmm(gradOutC, v.transpose(1, 2));
                gradScores.mul_(probabilities);
                var rowSums = gradScores.sum(-1, keepdim: true);
                gradScores.addcmul_(probabilities, rowSums, minusOne);

                // TorchSharp 0.107's baddbmm hands its arguments to libtorch in another order: bmm, mul_ and add_.
                var dq = torch.bmm(gradScores, k).mul_(scale).add_(BiasGradientOnQ(gradScores, relPosH, relPosW, layout.Size));
                HeadsFirst(grad, chunk, 0).copy_(dq);
                HeadsFirst(grad, chunk, 1).copy_(torch.bmm(gradScores.transpose(1, 2), q).mul_(scale));
            }
            gradFused = grid.Merge(grad.view(layout.Fused.shape)).MoveToOuterDisposeScope();
        }
        foreach (var tensor in saved)
            tensor?.Dispose();
        // Frees the saved input now, as libtorch's own nodes do after their backward.
        ctx.save_data(ReleasedKey, true);
        ctx.Dispose();
        gradOutput.Dispose();
        handedOver = [gradFused];
        return [gradFused, null!, null!, null!, null!, null!, null!];
    }

    /// <summary>
    /// Ranges of heads such that one [heads, Lq, Lk] buffer stays near <see cref="ChunkBytes"/>: small enough to
    /// come from the heap and be reused instead of a fresh mapping per buffer, and to keep the step's peak down.
    /// </summary>
    public static IEnumerable<(long Start, long Length)> Chunks(long heads, long queries, long keys)
    {
        long perHead = Math.Max(1, queries * keys * sizeof(float));
        long maxPerChunk = Math.Max(1, ChunkBytes / perHead);
        long chunks = (heads + maxPerChunk - 1) / maxPerChunk;
        long length = (heads + chunks - 1) / chunks;
        for (long start = 0; start < heads; start += length)
            yield return (start, Math.Min(length, heads - start));
    }

    /// <summary>Forward for every chunk, written into [B, H, W, heads * d]; the softmax also into <paramref name="keep"/> if given.</summary>
    private static Tensor Attend(Layout layout, Tensor relPosH, Tensor relPosW, Tensor? keep)
    {
        using var scope = NewDisposeScope();
        var output = torch.empty([layout.Groups, layout.Tokens, layout.Heads, layout.HeadDim], dtype: layout.Fused.dtype, device: layout.Fused.device);
        using var scale = (1.0 / Math.Sqrt(layout.HeadDim)).ToScalar();
        foreach (var chunk in layout.Chunks())
        {
            using var chunkScope = NewDisposeScope();
            var (q, k, v) = layout.Slices(chunk);
            Tensor attended;
            if (keep is not null)
            {
                var probabilities = Probabilities(q, k, relPosH, relPosW, layout.Size, scale);
                keep[chunk.Group].narrow(0, chunk.Head, chunk.Count).copy_(probabilities);
                attended = torch.bmm(probabilities, v);
            }
            else
            {
                var bias = EncoderAttention.DecomposedRelPosBiasFromTables(q, relPosH, relPosW, layout.Size, layout.Size);
                attended = F.scaled_dot_product_attention(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), bias.unsqueeze(0))[0];
            }
            HeadsFirst(output, chunk).copy_(attended);
        }
        return output.view(layout.Fused.shape[0], layout.Fused.shape[1], layout.Fused.shape[2], -1).MoveToOuterDisposeScope();
    }

    /// <summary>The [count, L, d] view of heads chunk.Head.. of group chunk.Group in a [G, L, (3,) heads, d] tensor.</summary>
    private static Tensor HeadsFirst(Tensor tokensFirst, Chunk chunk, int? part = null)
    {
        var group = tokensFirst[chunk.Group];
        var heads = part is int p ? group.select(1, p) : group;
        return heads.narrow(1, chunk.Head, chunk.Count).transpose(0, 1);
    }

    /// <summary>softmax(q k^T * scale + rel_h + rel_w) for one chunk, [heads, Lq, Lk].</summary>
    private static Tensor Probabilities(Tensor q, Tensor k, Tensor relPosH, Tensor relPosW, (long H, long W) size, Scalar scale)
    {
        using var scores = torch.bmm(q, k.transpose(1, 2));
        using (var bias = EncoderAttention.DecomposedRelPosBiasFromTables(q, relPosH, relPosW, size, size))
            scores.mul_(scale).add_(bias);
        return scores.softmax(-1);
    }

    /// <summary>d(rel_h + rel_w)/dq applied to dS: sum dS over the key columns (rows) and map back through the tables.</summary>
    private static Tensor BiasGradientOnQ(Tensor gradScores, Tensor relPosH, Tensor relPosW, (long H, long W) size)
    {
        long n = gradScores.shape[0];
        using var grid = gradScores.view(n, size.H, size.W, size.H, size.W);
        using var gradRelH = grid.sum(-1);
        using var gradRelW = grid.sum(-2);
        using var fromH = torch.einsum("bhwk,hkc->bhwc", gradRelH, relPosH);
        using var fromW = torch.einsum("bhwk,wkc->bhwc", gradRelW, relPosW);
        return fromH.add_(fromW).reshape(n, size.H * size.W, -1);
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

    private readonly record struct Chunk(long Group, long Head, long Count);

    /// <summary>How a [B, H, W, C] grid is split into attention windows (window 0: the grid is one window).</summary>
    private sealed record Grid(int WindowSize, (long H, long W) Size, (long H, long W) Padded)
    {
        public static Grid Of(Tensor x, int windowSize)
        {
            long h = x.shape[1], w = x.shape[2];
            return windowSize <= 0
                ? new Grid(0, (h, w), (h, w))
                : new Grid(windowSize, (h, w), (RoundUp(h, windowSize), RoundUp(w, windowSize)));
        }

        /// <summary>Fused projections without the bias as windows with it (padded tokens: the bias alone).</summary>
        public Tensor Windows(Tensor fused, Tensor? qkvBias)
        {
            var windows = Split(fused);
            if (qkvBias is null)
                return windows;
            // In place only on a copy: without padding and with one window per row the partition is a view of the input.
            return SplitCopies ? windows.add_(qkvBias) : windows + qkvBias;
        }

        /// <summary>Whether <see cref="Split"/> returns a new tensor (padding, or windows reordered), not a view.</summary>
        private bool SplitCopies => WindowSize > 1 && (Padded != Size || Padded.W / WindowSize > 1);

        /// <summary>[B, H, W, C] to [B * windows, ws, ws, C], zero-padded.</summary>
        public Tensor Split(Tensor x) => WindowSize == 0 ? x : EncoderBlock.WindowPartition(x, WindowSize).Windows;

        /// <summary>[B * windows, ws, ws, C] back to [B, H, W, C] without the padding.</summary>
        public Tensor Merge(Tensor windows) => WindowSize == 0 ? windows : EncoderBlock.WindowUnpartition(windows, WindowSize, Padded, Size);

        private static long RoundUp(long n, int multiple) => (n + multiple - 1) / multiple * multiple;
    }

    /// <summary>Fused projections [G, H, W, 3 * heads * d] seen as [G, L, 3, heads, d].</summary>
    private sealed record Layout(Tensor Fused, long Groups, (long H, long W) Size, long Heads, long HeadDim)
    {
        public long Tokens => Size.H * Size.W;

        public static Layout Of(Tensor fused, int heads)
        {
            if (fused.dim() != 4 || fused.shape[3] % (3 * heads) != 0)
                throw new ArgumentException($"fused projections must be [B, H, W, 3 * heads * d] with {heads} heads, got [{string.Join(", ", fused.shape)}]", nameof(fused));
            return new Layout(fused, fused.shape[0], (fused.shape[1], fused.shape[2]), heads, fused.shape[3] / (3 * heads));
        }

        public IEnumerable<Chunk> Chunks()
        {
            for (long group = 0; group < Groups; group++)
            {
                foreach (var (start, length) in RelPosAttention.Chunks(Heads, Tokens, Tokens))
                    yield return new Chunk(group, start, length);
            }
        }

        /// <summary>q, k, v of one chunk as [count, L, d] views of the fused input.</summary>
        public (Tensor Q, Tensor K, Tensor V) Slices(Chunk chunk)
        {
            var parts = Fused[chunk.Group].reshape(Tokens, 3, Heads, HeadDim);
            Tensor Part(int p) => parts.select(1, p).narrow(1, chunk.Head, chunk.Count).transpose(0, 1);
            return (Part(0), Part(1), Part(2));
        }
    }
}
