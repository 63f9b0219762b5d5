using SAMed.Modeling;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SAMed.Kernels;

/// <summary>
/// SAM's encoder attention on fused projections: softmax(q k^T / sqrt(d) + rel_h + rel_w) v, where the decomposed
/// relative-position bias is computed from q and fixed (frozen) position tables. A custom autograd function for
/// training, and the same computation without autograd for inference. Its specification is SAM's attention through
/// libtorch's autograd, <see cref="EncoderAttention.Attend"/> on SAM's zero-padded windows.
/// <para>
/// With the bias as a float mask that needs a gradient, libtorch's scaled_dot_product_attention falls back to its
/// math path, which keeps every block's [heads, L, L] softmax for backward (318 MiB for vit_b at 512 x 512). Here the
/// forward keeps only the fused q/k/v input; backward recomputes the softmax chunk by chunk, in the manner of flash
/// attention, and forms the bias gradient's share of dq directly.
/// </para>
/// <para>
/// Input and output stay in the projection layouts ([B, H, W, 3 * dim] in, [B, H, W, dim] out, heads interleaved
/// per token). Windows are taken one at a time, padded as SAM pads them, and results and gradients are written
/// straight back into those layouts: no padded, partitioned or head-split copy of a whole block's tensors is made,
/// which keeps the step's buffers small and the heap from fragmenting. Only a window's real tokens query: the padded
/// ones are keys and values, as in SAM, but SAM drops their outputs, so their rows of the attention matrix are
/// neither computed nor differentiated (1024 query rows instead of 1764 for vit_b's windowed blocks at 512 x 512).
/// </para>
/// </summary>
public sealed class RelPosAttention : autograd.SingleTensorFunction<RelPosAttention>
{
    private static readonly CustomBackward bookkeeping = new(nameof(RelPosAttention));

    private const string GridKey = "grid";

    public override string Name => nameof(RelPosAttention);

    /// <summary>Target size of one attention-matrix buffer on the CPU (see <see cref="Chunks"/>).</summary>
    public const long ChunkBytes = 8L << 20;

    /// <summary>
    /// Target size on a GPU, where chunking only serves the peak (fresh pages cost nothing there, and every chunk is
    /// a round of kernel launches).
    /// </summary>
    public const long GpuChunkBytes = 512L << 20;

    /// <summary>The chunk target for tensors on <paramref name="device"/>.</summary>
    public static long ChunkBytesFor(Device device) => device.type == DeviceType.CPU ? ChunkBytes : GpuChunkBytes;

    /// <summary>
    /// Attention with autograd. <paramref name="fused"/> [B, H, W, 3 * heads * d] holds q, k and v as qkv produces
    /// them; tables from <see cref="EncoderAttention.GetRelPos"/> (for the attended grid: the window, or H and W)
    /// get no gradient. Returns [B, H, W, heads * d], before the output projection.
    /// </summary>
    /// <param name="windowSize">
    /// 0: attend over the whole grid. Otherwise SAM's window attention: the grid is padded to whole windows, padded
    /// tokens projecting to <paramref name="qkvBias"/>, which is then added to every token (so <paramref name="fused"/>
    /// comes without it); only the unpadded input is kept for backward, which partitions it again.
    /// </param>
    public static Tensor Apply(Tensor fused, int heads, Tensor relPosH, Tensor relPosW, int windowSize = 0, Tensor? qkvBias = null) =>
        apply(fused, relPosH, relPosW, qkvBias!, heads, windowSize);

    /// <summary>The same attention without autograd (inference).</summary>
    public static Tensor Compute(Tensor fused, int heads, Tensor relPosH, Tensor relPosW, int windowSize = 0, Tensor? qkvBias = null)
    {
        using var noGrad = torch.no_grad();
        return Attend(Grid.Of(fused, heads, windowSize), fused, qkvBias, relPosH, relPosW);
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (fused, relPosH, relPosW, qkvBias) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], vars[3] as Tensor);
        var grid = Grid.Of(fused, (int)vars[4], (int)vars[5]);
        var output = Attend(grid, fused, qkvBias, relPosH, relPosW);
        // Saved after forward returns: the tensors must outlive this call (the caller's dispose scope frees the handles).
        ctx.save_for_backward([fused, relPosH, relPosW, qkvBias!]);
        ctx.save_data(GridKey, grid);
        return output;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = bookkeeping.Begin(ctx);
        Tensor gradFused;
        using (var scope = NewDisposeScope())
        {
            var (fused, relPosH, relPosW, qkvBias) = (saved[0], saved[1], saved[2], saved[3]);
            var grid = (Grid)ctx.get_data(GridKey);
            gradFused = torch.empty_like(fused);
            using var scale = (1.0 / Math.Sqrt(grid.HeadDim)).ToScalar();
            using var minusOne = (-1.0).ToScalar();
            foreach (var window in grid.Windows())
            {
                using var windowScope = NewDisposeScope();
                var (projections, queries, tableH, tableW, querySize) = grid.Inputs(fused, qkvBias, relPosH, relPosW, window);
                // Padded queries' outputs are dropped, so their gradient is zero: only the real ones enter backward.
                var gradOut = grid.RealTokens(gradOutput, window).view(grid.Batch, -1, grid.Heads, grid.HeadDim);
                Tensor gradQ, gradKV;
                if (grid.Covers(window))
                {
                    var gradTokens = gradFused.view(grid.Batch, grid.Tokens, 3, grid.Heads, grid.HeadDim);
                    (gradQ, gradKV) = (gradTokens.select(2, 0), gradTokens.narrow(2, 1, 2));
                }
                else
                {
                    gradQ = torch.empty([grid.Batch, querySize.H * querySize.W, grid.Heads, grid.HeadDim], dtype: fused.dtype, device: fused.device);
                    gradKV = torch.empty([grid.Batch, grid.Tokens, 2, grid.Heads, grid.HeadDim], dtype: fused.dtype, device: fused.device);
                }
                foreach (var (head, count) in grid.Chunks())
                {
                    using var chunkScope = NewDisposeScope();
                    var q = Grouped(HeadsFirst(queries, head, count));
                    var k = Grouped(HeadsFirst(projections, head, count, 1));
                    var v = Grouped(HeadsFirst(projections, head, count, 2));
                    var gradOutC = Grouped(HeadsFirst(gradOut, head, count));
                    var probabilities = Probabilities(q, k, tableH, tableW, querySize, grid.WindowGrid, scale);
                    Store(gradKV, head, count, 1, KeyGradient(probabilities, gradOutC, grid.Covers(window)));

                    // dS = P * (dP - rowsum(P * dP)), built in dP's buffer.
                    var gradScores = torch.bmm(gradOutC, v.transpose(1, 2));
                    gradScores.mul_(probabilities);
                    var rowSums = gradScores.sum(-1, keepdim: true);
                    gradScores.addcmul_(probabilities, rowSums, minusOne);

                    // TorchSharp 0.107's baddbmm hands its arguments to libtorch in another order: bmm, mul_ and add_.
                    var dq = torch.bmm(gradScores, k).mul_(scale).add_(BiasGradientOnQ(gradScores, tableH, tableW, querySize, grid.WindowGrid));
                    Store(gradQ, head, count, null, dq);
                    Store(gradKV, head, count, 0, KeyGradient(gradScores, q, grid.Covers(window)).mul_(scale));
                }
                // Padded tokens' gradients would reach only the frozen qkv bias: the real tokens' go back in place.
                if (!grid.Covers(window))
                    grid.ScatterGradients(gradFused, gradQ, gradKV, window);
            }
            gradFused.MoveToOuterDisposeScope();
        }
        bookkeeping.End(ctx, saved, gradOutput, gradFused);
        return [gradFused, null!, null!, null!, null!, null!];
    }

    /// <summary>
    /// Ranges of heads such that one [images, heads, Lq, Lk] buffer stays near <paramref name="chunkBytes"/>: small
    /// enough to come from the heap and be reused instead of a fresh mapping per buffer, and to keep the step's peak
    /// down. At least one head per chunk.
    /// </summary>
    public static IEnumerable<(long Start, long Length)> Chunks(long heads, long queries, long keys, long images = 1, long chunkBytes = ChunkBytes)
    {
        long perHead = Math.Max(1, images * queries * keys * sizeof(float));
        long maxPerChunk = Math.Max(1, chunkBytes / perHead);
        long chunks = (heads + maxPerChunk - 1) / maxPerChunk;
        long length = (heads + chunks - 1) / chunks;
        for (long start = 0; start < heads; start += length)
            yield return (start, Math.Min(length, heads - start));
    }

    /// <summary>Forward, window by window and chunk by chunk, into [B, H, W, heads * d].</summary>
    private static Tensor Attend(Grid grid, Tensor fused, Tensor? qkvBias, Tensor relPosH, Tensor relPosW)
    {
        using var scope = NewDisposeScope();
        var output = torch.empty([fused.shape[0], fused.shape[1], fused.shape[2], grid.Heads * grid.HeadDim], dtype: fused.dtype, device: fused.device);
        foreach (var window in grid.Windows())
        {
            using var windowScope = NewDisposeScope();
            var (projections, queries, tableH, tableW, querySize) = grid.Inputs(fused, qkvBias, relPosH, relPosW, window);
            long queryCount = querySize.H * querySize.W;
            var attended = grid.Covers(window)
                ? output.view(grid.Batch, grid.Tokens, grid.Heads, grid.HeadDim)
                : torch.empty([grid.Batch, queryCount, grid.Heads, grid.HeadDim], dtype: fused.dtype, device: fused.device);
            foreach (var (head, count) in grid.Chunks())
            {
                using var chunkScope = NewDisposeScope();
                var (q4, k4, v4) = (HeadsFirst(queries, head, count), HeadsFirst(projections, head, count, 1), HeadsFirst(projections, head, count, 2));
                // The fused kernel takes the [B, heads, L, d] views as they are (only the last stride must be 1).
                var bias = EncoderAttention.DecomposedRelPosBiasFromTables(Grouped(q4), tableH, tableW, querySize, grid.WindowGrid);
                var result = F.scaled_dot_product_attention(q4, k4, v4, bias.view(grid.Batch, count, queryCount, grid.Tokens));
                Store(attended, head, count, null, result);
            }
            if (!grid.Covers(window))
                grid.Scatter(output, attended, window);
        }
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A^T B for the key side of backward ([n, Lq, Lk] A, [n, Lq, d] B: dV from the softmax, dK from dS), [n, Lk, d].
    /// Over a whole grid (global attention, Lq = Lk = 1024 for vit_b) MKL runs (B^T A)^T, whose large operand is not
    /// transposed, about 15% faster; for small windows the direct product is faster.
    /// </summary>
    private static Tensor KeyGradient(Tensor scores, Tensor values, bool wholeGrid) =>
        wholeGrid ? torch.bmm(values.transpose(1, 2), scores).transpose(1, 2) : torch.bmm(scores.transpose(1, 2), values);

    /// <summary>Heads head..head+count of a [B, L, (3,) heads, d] tensor as a [B, count, L, d] view.</summary>
    private static Tensor HeadsFirst(Tensor tokensFirst, long head, long count, int? part = null)
    {
        var heads = part is int p ? tokensFirst.select(2, p) : tokensFirst;
        return heads.narrow(2, head, count).transpose(1, 2);
    }

    /// <summary>[B, count, L, d] as [B * count, L, d] for batched products (a view for one image, else a copy).</summary>
    private static Tensor Grouped(Tensor headsFirst) => headsFirst.reshape(-1, headsFirst.shape[2], headsFirst.shape[3]);

    /// <summary>Writes [B * count, L, d] results into heads head..head+count of a [B, L, (3,) heads, d] tensor.</summary>
    private static void Store(Tensor tokensFirst, long head, long count, int? part, Tensor grouped)
    {
        var target = HeadsFirst(tokensFirst, head, count, part);
        target.copy_(grouped.view(target.shape));
    }

    /// <summary>softmax(q k^T * scale + rel_h + rel_w) for one chunk, [heads, Lq, Lk].</summary>
    private static Tensor Probabilities(Tensor q, Tensor k, Tensor relPosH, Tensor relPosW, (long H, long W) querySize, (long H, long W) keySize, Scalar scale)
    {
        using var scaledQ = q.mul(scale);
        using var scores = torch.bmm(scaledQ, k.transpose(1, 2));
        using (var bias = EncoderAttention.DecomposedRelPosBiasFromTables(q, relPosH, relPosW, querySize, keySize))
            scores.add_(bias);
        return scores.softmax(-1);
    }

    /// <summary>d(rel_h + rel_w)/dq applied to dS: sum dS over the key columns (rows) and map back through the tables.</summary>
    private static Tensor BiasGradientOnQ(Tensor gradScores, Tensor relPosH, Tensor relPosW, (long H, long W) querySize, (long H, long W) keySize)
    {
        long n = gradScores.shape[0];
        using var grid = gradScores.view(n, querySize.H, querySize.W, keySize.H, keySize.W);
        using var gradRelH = grid.sum(-1);
        using var gradRelW = grid.sum(-2);
        using var fromH = torch.einsum("bhwk,hkc->bhwc", gradRelH, relPosH);
        using var fromW = torch.einsum("bhwk,wkc->bhwc", gradRelW, relPosW);
        return fromH.add_(fromW).reshape(n, querySize.H * querySize.W, -1);
    }

    /// <summary>A window's projections [B, L, 3, heads, d], its real queries [B, Lq, heads, d], their position tables and grid.</summary>
    private readonly record struct WindowInputs(Tensor Projections, Tensor Queries, Tensor TableH, Tensor TableW, (long H, long W) QuerySize);

    /// <summary>One window position (the same in every image): top-left token (Row, Col), and how many of its rows and columns are real (the rest is padding).</summary>
    private readonly record struct Window(long Row, long Col, long Rows, long Cols);

    /// <summary>
    /// How fused projections [B, H, W, 3 * heads * d] are attended: in windows of WindowSize tokens a side, the grid
    /// padded to whole windows as SAM pads it, or (window size 0) over the whole grid. Each window position is
    /// taken in all B images at once, so the number of steps does not grow with the batch.
    /// </summary>
    private sealed record Grid(int WindowSize, long Batch, (long H, long W) Size, long Heads, long HeadDim, long ChunkBytes)
    {
        public static Grid Of(Tensor fused, int heads, int windowSize)
        {
            if (fused.dim() != 4 || fused.shape[3] % (3 * heads) != 0)
                throw new ArgumentException($"fused projections must be [B, H, W, 3 * heads * d] with {heads} heads, got [{string.Join(", ", fused.shape)}]", nameof(fused));
            return new Grid(Math.Max(0, windowSize), fused.shape[0], (fused.shape[1], fused.shape[2]), heads, fused.shape[3] / (3 * heads), ChunkBytesFor(fused.device));
        }

        /// <summary>Whether the window is the whole grid (global attention): results go straight into place.</summary>
        public bool Covers(Window window) => window.Rows == Size.H && window.Cols == Size.W && WindowGrid == Size;

        /// <summary>The attended grid of one window.</summary>
        public (long H, long W) WindowGrid => WindowSize == 0 ? Size : (WindowSize, WindowSize);

        public long Tokens => WindowGrid.H * WindowGrid.W;

        public IEnumerable<(long Start, long Length)> Chunks() => RelPosAttention.Chunks(Heads, Tokens, Tokens, Batch, ChunkBytes);

        public IEnumerable<Window> Windows()
        {
            var (height, width) = WindowGrid;
            for (long row = 0; row < Size.H; row += height)
            {
                for (long col = 0; col < Size.W; col += width)
                    yield return new Window(row, col, Math.Min(height, Size.H - row), Math.Min(width, Size.W - col));
            }
        }

        /// <summary>
        /// A window's projections with the bias, [B, L, 3, heads, d]: padded tokens project to the bias alone (SAM
        /// pads the normalised tokens with zeros before qkv).
        /// </summary>
        private Tensor Projections(Tensor fused, Tensor? qkvBias, Window window)
        {
            var real = Real(fused, window);
            Tensor projections;
            if (window.Rows == WindowGrid.H && window.Cols == WindowGrid.W)
            {
                projections = qkvBias is null ? real : real + qkvBias;
            }
            else
            {
                projections = torch.zeros([Batch, WindowGrid.H, WindowGrid.W, fused.shape[3]], dtype: fused.dtype, device: fused.device);
                if (qkvBias is not null)
                    projections.add_(qkvBias);
                projections.narrow(1, 0, window.Rows).narrow(2, 0, window.Cols).add_(real);
            }
            return projections.reshape(Batch, Tokens, 3, Heads, HeadDim);
        }

        /// <summary>
        /// What forward and backward take from one window: its projections (keys and values, padded tokens
        /// included), the q of its real tokens, which alone query (SAM drops the padded tokens' outputs), the position
        /// tables' rows for those queries (the window's top rows and left columns) and their grid.
        /// </summary>
        public WindowInputs Inputs(Tensor fused, Tensor? qkvBias, Tensor relPosH, Tensor relPosW, Window window)
        {
            var projections = Projections(fused, qkvBias, window);
            return new WindowInputs(projections, Queries(projections, window),
                relPosH.narrow(0, 0, window.Rows), relPosW.narrow(0, 0, window.Cols), (window.Rows, window.Cols));
        }

        /// <summary>The real tokens' q of a window's projections, [B, Lq, heads, d] (a view unless the window is padded).</summary>
        private Tensor Queries(Tensor projections, Window window)
        {
            var q = projections.select(2, 0);
            if (window.Rows == WindowGrid.H && window.Cols == WindowGrid.W)
                return q;
            return q.view(Batch, WindowGrid.H, WindowGrid.W, Heads, HeadDim)
                .narrow(1, 0, window.Rows).narrow(2, 0, window.Cols)
                .reshape(Batch, window.Rows * window.Cols, Heads, HeadDim);
        }

        /// <summary>The real tokens of a window of [B, H, W, C] as [B, Lq, C] (a copy unless the window is the whole grid).</summary>
        public Tensor RealTokens(Tensor x, Window window) =>
            Real(x, window).reshape(Batch, window.Rows * window.Cols, x.shape[3]);

        /// <summary>Copies the real queries' results [B, Lq, ...] (Lq x C elements an image) into [B, H, W, C].</summary>
        public void Scatter(Tensor target, Tensor values, Window window) =>
            Real(target, window).copy_(values.view(Batch, window.Rows, window.Cols, -1));

        /// <summary>
        /// Copies a window's gradients into [B, H, W, 3 * C]: dq of the real queries [B, Lq, heads, d] and the real
        /// tokens' dk and dv out of [B, L, 2, heads, d].
        /// </summary>
        public void ScatterGradients(Tensor gradFused, Tensor gradQ, Tensor gradKV, Window window)
        {
            long channels = Heads * HeadDim;
            Scatter(gradFused.narrow(3, 0, channels), gradQ, window);
            var keysAndValues = gradKV.view(Batch, WindowGrid.H, WindowGrid.W, 2 * channels).narrow(1, 0, window.Rows).narrow(2, 0, window.Cols);
            Real(gradFused, window).narrow(3, channels, 2 * channels).copy_(keysAndValues);
        }

        private static Tensor Real(Tensor x, Window window) =>
            x.narrow(1, window.Row, window.Rows).narrow(2, window.Col, window.Cols);
    }
}
