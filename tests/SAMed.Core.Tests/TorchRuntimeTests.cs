using TorchSharp;

namespace SAMed.Tests;

public class TorchRuntimeTests
{
    [Fact]
    public void LibTorchLoadsAndComputes()
    {
        using var a = torch.arange(6, dtype: torch.float32).reshape(2, 3);
        using var product = a.matmul(a.T);
        Assert.Equal(new float[] { 5, 14, 14, 50 }, product.data<float>().ToArray());
    }
}
