using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Benchmarks;

/// <summary>libtorch's own float32 matrix-product rate on one large square product: the machine's practical limit.</summary>
public static class MatmulRate
{
    /// <summary>Times C = A B for random n x n float32 matrices; returns the timing and GFLOP/s of the median (2 n³ per product).</summary>
    public static (SampleStats Seconds, double GflopPerSecond) Measure(int size = 2048, int warmup = 2, int iterations = 7, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var a = torch.randn(size, size).to(dtype);
        var b = torch.randn(size, size).to(dtype);
        var stats = SampleStats.Measure(warmup, iterations, () =>
        {
            using var product = a.matmul(b);
        });
        double flops = 2.0 * size * size * size;
        return (stats, flops / stats.Median / 1e9);
    }
}
