using SAMed.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Modeling;

/// <summary>The training attention (custom autograd, recomputed softmax) against plain autograd through SAM's formula.</summary>
public class RelPosAttentionTests
{
    [Theory]
    [InlineData(3, 2, 4, 4, 8, false)] // windowed-like: several windows, small grid
    [InlineData(3, 2, 4, 4, 8, true)] // the same, softmax kept for backward
    [InlineData(1, 3, 5, 7, 6, false)] // non-square grid
    [InlineData(1, 3, 5, 7, 6, true)]
    [InlineData(3, 1, 32, 32, 4, false)] // 3 groups of 4 MiB attention matrices: more than one chunk
    [InlineData(3, 1, 32, 32, 4, true)]
    public void OutputAndGradientsMatchAutogradThroughSamsFormula(int batch, int heads, int height, int width, int dim, bool keepProbabilities)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(7);
        long tokens = height * width;
        var q = torch.randn([batch, heads, tokens, dim], dtype: ScalarType.Float64).requires_grad_(true);
        var k = torch.randn([batch, heads, tokens, dim], dtype: ScalarType.Float64).requires_grad_(true);
        var v = torch.randn([batch, heads, tokens, dim], dtype: ScalarType.Float64).requires_grad_(true);
        var relPosH = torch.randn([2 * height - 1, dim], dtype: ScalarType.Float64);
        var relPosW = torch.randn([2 * width - 1, dim], dtype: ScalarType.Float64);
        var gradOutput = torch.randn([batch, heads, tokens, dim], dtype: ScalarType.Float64);

        var want = ReferenceAttention(q, k, v, relPosH, relPosW, (height, width));
        var (wantDq, wantDk, wantDv) = Gradients(want, gradOutput, q, k, v);

        var have = RelPosAttention.Apply(q, k, v,
            EncoderAttention.GetRelPos(height, height, relPosH), EncoderAttention.GetRelPos(width, width, relPosW),
            (height, width), (height, width), keepProbabilities);
        var (dq, dk, dv) = Gradients(have, gradOutput, q, k, v);

        AssertClose("output", have, want);
        AssertClose("dq", dq, wantDq);
        AssertClose("dk", dk, wantDk);
        AssertClose("dv", dv, wantDv);
    }

    [Fact]
    public void TheEncoderUsesItOnlyWhereAutogradNeedsQsGradientAndTheTablesAreFrozen()
    {
        using var scope = torch.NewDisposeScope();
        var tables = torch.zeros(3, 4);
        var trainableTables = torch.zeros(3, 4).requires_grad_(true);
        var plainQ = torch.zeros(1, 1, 2, 4);
        var gradQ = torch.zeros(1, 1, 2, 4).requires_grad_(true);
        Assert.True(EncoderAttention.UsesRelPosAttention(gradQ, tables, tables));
        Assert.False(EncoderAttention.UsesRelPosAttention(plainQ, tables, tables));
        Assert.False(EncoderAttention.UsesRelPosAttention(gradQ, trainableTables, tables));
        Assert.False(EncoderAttention.UsesRelPosAttention(gradQ, tables, trainableTables));
        using (torch.no_grad())
            Assert.False(EncoderAttention.UsesRelPosAttention(gradQ, tables, tables));
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
            inference = attention.forward(x);
        var trainingInput = x.clone().requires_grad_(true);
        var training = attention.forward(trainingInput);
        training.sum().backward();
        Assert.NotNull(trainingInput.grad);
        AssertClose("training output", training.detach(), inference, tolerance: 1e-5);
    }

    [Fact]
    public void ChunksCoverEveryGroupOnceAndStayNearTheTarget()
    {
        Assert.Equal([(0L, 12L)], RelPosAttention.Chunks(12, 196, 196).ToArray()); // 12 x 150 KiB in one chunk
        var global = RelPosAttention.Chunks(12, 1024, 1024).ToArray(); // 4 MiB per group
        Assert.Equal(6, global.Length);
        Assert.All(global, c => Assert.Equal(2, c.Length));
        var uneven = RelPosAttention.Chunks(7, 1024, 1024).ToArray();
        Assert.Equal(Enumerable.Range(0, 7).Select(i => (long)i), uneven.SelectMany(c => Enumerable.Range((int)c.Start, (int)c.Length).Select(i => (long)i)));
        Assert.All(uneven, c => Assert.True(c.Length * 1024 * 1024 * 4 <= RelPosAttention.ChunkBytes));
        Assert.Equal([(0L, 1L), (1L, 1L)], RelPosAttention.Chunks(2, 4096, 4096).ToArray()); // one group above the target
    }

    /// <summary>softmax(q k^T / sqrt(d) + rel_h + rel_w) v by hand, every step differentiable.</summary>
    private static Tensor ReferenceAttention(Tensor q, Tensor k, Tensor v, Tensor relPosH, Tensor relPosW, (long H, long W) size)
    {
        long b = q.shape[0], heads = q.shape[1], tokens = q.shape[2], dim = q.shape[3];
        var scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / Math.Sqrt(dim));
        var bias = EncoderAttention.DecomposedRelPosBias(q.reshape(b * heads, tokens, dim), relPosH, relPosW, size, size).view(b, heads, tokens, tokens);
        return torch.matmul((scores + bias).softmax(-1), v);
    }

    private static (Tensor Dq, Tensor Dk, Tensor Dv) Gradients(Tensor output, Tensor gradOutput, Tensor q, Tensor k, Tensor v)
    {
        var grads = torch.autograd.grad([output], [q, k, v], [gradOutput]);
        return (grads[0], grads[1], grads[2]);
    }

    private static void AssertClose(string what, Tensor have, Tensor want, double tolerance = 1e-10)
    {
        Assert.Equal(want.shape, have.shape);
        double error = (have - want).abs().max().to_type(ScalarType.Float64).item<double>();
        double scale = Math.Max(1, want.abs().max().to_type(ScalarType.Float64).item<double>());
        Assert.True(error <= tolerance * scale, $"{what}: max abs difference {error:E2} (scale {scale:F2}, tolerance {tolerance:E0})");
    }
}
