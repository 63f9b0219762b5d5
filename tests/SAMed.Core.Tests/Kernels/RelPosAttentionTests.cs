using SAMed.Kernels;
using SAMed.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Kernels;

/// <summary>The training attention (custom autograd, recomputed softmax) against plain autograd through SAM's formula.</summary>
public class RelPosAttentionTests
{
    [Theory]
    [InlineData(3, 2, 4, 4, 8)] // windowed-like: several windows, small grid
    [InlineData(1, 3, 5, 7, 6)] // non-square grid
    [InlineData(2, 3, 32, 32, 4)] // 3 heads of 4 MiB attention matrices: more than one chunk per group
    public void OutputAndGradientMatchAutogradThroughSamsFormula(int batch, int heads, int height, int width, int dim)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(7);
        var fused = torch.randn([batch, height, width, 3 * heads * dim], dtype: ScalarType.Float64).requires_grad_(true);
        var relPosH = torch.randn([2 * height - 1, dim], dtype: ScalarType.Float64);
        var relPosW = torch.randn([2 * width - 1, dim], dtype: ScalarType.Float64);
        var gradOutput = torch.randn([batch, height, width, heads * dim], dtype: ScalarType.Float64);

        var want = ReferenceAttention(fused, heads, relPosH, relPosW);
        var wantGrad = torch.autograd.grad([want], [fused], [gradOutput])[0];

        var tableH = EncoderAttention.GetRelPos(height, height, relPosH);
        var tableW = EncoderAttention.GetRelPos(width, width, relPosW);
        var have = RelPosAttention.Apply(fused, heads, tableH, tableW);
        var grad = torch.autograd.grad([have], [fused], [gradOutput])[0];
        var inference = RelPosAttention.Compute(fused, heads, tableH, tableW);

        AssertClose("output", have, want);
        AssertClose("inference output", inference, want);
        AssertClose("gradient", grad, wantGrad);
    }

    [Fact]
    public void TheEncoderUsesItOnlyWhereAutogradNeedsQsGradientAndTheTablesAreFrozen()
    {
        using var scope = torch.NewDisposeScope();
        var tables = torch.zeros(3, 4);
        var trainableTables = torch.zeros(3, 4).requires_grad_(true);
        var plainQ = torch.zeros(1, 1, 2, 4);
        var gradQ = torch.zeros(1, 1, 2, 4).requires_grad_(true);
        Assert.True(FastAttentionKernel.UsesRelPosAttention(gradQ, tables, tables));
        Assert.False(FastAttentionKernel.UsesRelPosAttention(plainQ, tables, tables));
        Assert.False(FastAttentionKernel.UsesRelPosAttention(gradQ, trainableTables, tables));
        Assert.False(FastAttentionKernel.UsesRelPosAttention(gradQ, tables, trainableTables));
        using (torch.no_grad())
            Assert.False(FastAttentionKernel.UsesRelPosAttention(gradQ, tables, tables));
    }

    [Fact]
    public void EncoderAttentionGivesTheSameOutputWithAndWithoutAutograd()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        var attention = new EncoderAttention(dim: 16, numHeads: 2, qkvBias: true, useRelPos: true, inputSize: 6);
        using (torch.no_grad())
        {
            foreach (var (_, parameter) in attention.named_parameters())
                parameter.normal_(0, 0.5).requires_grad_(false);
        }
        var x = torch.randn([2, 6, 6, 16]);
        Tensor inference;
        using (torch.no_grad())
            inference = attention.InWindows(x, windowSize: 0);
        var trainingInput = x.clone().requires_grad_(true);
        var training = attention.InWindows(trainingInput, windowSize: 0);
        training.sum().backward();
        Assert.NotNull(trainingInput.grad);
        AssertClose("training output", training.detach(), inference, tolerance: 1e-5);
    }

    [Fact]
    public void ChunksCoverEveryHeadOnceAndStayNearTheTarget()
    {
        Assert.Equal([(0L, 12L)], RelPosAttention.Chunks(12, 196, 196).ToArray()); // 12 x 150 KiB in one chunk
        var global = RelPosAttention.Chunks(12, 1024, 1024).ToArray(); // 4 MiB per head
        Assert.Equal(6, global.Length);
        Assert.All(global, c => Assert.Equal(2, c.Length));
        var uneven = RelPosAttention.Chunks(7, 1024, 1024).ToArray();
        Assert.Equal(Enumerable.Range(0, 7).Select(i => (long)i), uneven.SelectMany(c => Enumerable.Range((int)c.Start, (int)c.Length).Select(i => (long)i)));
        Assert.All(uneven, c => Assert.True(c.Length * 1024 * 1024 * 4 <= RelPosAttention.ChunkBytes));
        Assert.Equal([(0L, 1L), (1L, 1L)], RelPosAttention.Chunks(2, 4096, 4096).ToArray()); // one head above the target
        Assert.All(RelPosAttention.Chunks(12, 196, 196, images: 24), c => Assert.Equal(2, c.Length)); // 24 images: 3.7 MB a head
        Assert.Equal([(0L, 12L)], RelPosAttention.Chunks(12, 196, 196, images: 24, RelPosAttention.GpuChunkBytes).ToArray());
        Assert.Equal(RelPosAttention.ChunkBytes, RelPosAttention.ChunkBytesFor(torch.CPU));
    }

    [Theory]
    [InlineData(2, 8, 8, 3)] // padded to 9 x 9: 9 windows per image
    [InlineData(1, 5, 7, 4)] // uneven padding
    [InlineData(1, 6, 6, 6)] // one unpadded window: the partition is a view of the input
    public void WindowedOutputAndGradientMatchSamsPaddedWindows(int batch, int height, int width, int window)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(11);
        const int heads = 2, dim = 4;
        var fused = torch.randn([batch, height, width, 3 * heads * dim], dtype: ScalarType.Float64).requires_grad_(true);
        var qkvBias = torch.randn([3 * heads * dim], dtype: ScalarType.Float64);
        var relPos = torch.randn([2 * window - 1, dim], dtype: ScalarType.Float64);
        var gradOutput = torch.randn([batch, height, width, heads * dim], dtype: ScalarType.Float64);

        // SAM: pad the tokens with zeros before qkv, so padded tokens project to the bias; attend in windows; crop.
        var (windows, padded) = EncoderBlock.WindowPartition(fused, window);
        var attended = ReferenceAttention(windows + qkvBias, heads, relPos, relPos);
        var want = EncoderBlock.WindowUnpartition(attended, window, padded, (height, width));
        var wantGrad = torch.autograd.grad([want], [fused], [gradOutput])[0];

        var table = EncoderAttention.GetRelPos(window, window, relPos);
        var have = RelPosAttention.Apply(fused, heads, table, table, window, qkvBias);
        var grad = torch.autograd.grad([have], [fused], [gradOutput])[0];
        var inference = RelPosAttention.Compute(fused, heads, table, table, window, qkvBias);

        AssertClose("output", have, want);
        AssertClose("inference output", inference, want);
        AssertClose("gradient", grad, wantGrad);
    }

    /// <summary>SAM's attention by hand from the fused projections, every step differentiable: [B, H, W, heads * d].</summary>
    private static Tensor ReferenceAttention(Tensor fused, int heads, Tensor relPosH, Tensor relPosW)
    {
        long b = fused.shape[0], h = fused.shape[1], w = fused.shape[2], tokens = h * w;
        var parts = fused.reshape(b, tokens, 3, heads, -1).permute(2, 0, 3, 1, 4).unbind(0);
        var (q, k, v) = (parts[0], parts[1], parts[2]);
        long dim = q.shape[3];
        var scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / Math.Sqrt(dim));
        var bias = EncoderAttention.DecomposedRelPosBias(q.reshape(b * heads, tokens, dim), relPosH, relPosW, (h, w), (h, w)).view(b, heads, tokens, tokens);
        var attended = torch.matmul((scores + bias).softmax(-1), v);
        return attended.permute(0, 2, 1, 3).reshape(b, h, w, -1);
    }

    private static void AssertClose(string what, Tensor have, Tensor want, double tolerance = 1e-10)
    {
        Assert.Equal(want.shape, have.shape);
        double error = (have - want).abs().max().to_type(ScalarType.Float64).item<double>();
        double scale = Math.Max(1, want.abs().max().to_type(ScalarType.Float64).item<double>());
        Assert.True(error <= tolerance * scale, $"{what}: max abs difference {error:E2} (scale {scale:F2}, tolerance {tolerance:E0})");
    }
}
