using SAMed.Training.Parallel;
using TorchSharp;

namespace SAMed.Tests.Training.Parallel;

public class BatchScatterTests
{
    /// <summary>DataParallel's scatter is tensor.chunk(n_devices): ceil(B / n) per chunk, the last smaller, fewer chunks for small B.</summary>
    [Theory]
    [InlineData(24, 2, new long[] { 12, 12 })]
    [InlineData(3, 2, new long[] { 2, 1 })]
    [InlineData(5, 4, new long[] { 2, 2, 1 })]
    [InlineData(6, 4, new long[] { 2, 2, 2 })]
    [InlineData(7, 3, new long[] { 3, 3, 1 })]
    [InlineData(1, 2, new long[] { 1 })]
    [InlineData(2, 2, new long[] { 1, 1 })]
    [InlineData(48, 4, new long[] { 12, 12, 12, 12 })]
    [InlineData(10, 4, new long[] { 3, 3, 3, 1 })]
    public void ChunkSizesAreTorchChunks(long batch, int devices, long[] want)
    {
        Assert.Equal(want, BatchScatter.ChunkSizes(batch, devices));
        using var scope = torch.NewDisposeScope();
        var torchChunks = torch.arange(batch).chunk(devices);
        Assert.Equal(torchChunks.Select(c => c.shape[0]), BatchScatter.ChunkSizes(batch, devices));
    }

    [Fact]
    public void EveryBatchUpTo64OnUpTo8DevicesIsSplitAsLibtorchChunks()
    {
        using var scope = torch.NewDisposeScope();
        for (long batch = 1; batch <= 64; batch++)
        {
            for (int devices = 1; devices <= 8; devices++)
                Assert.Equal(torch.arange(batch).chunk(devices).Select(c => c.shape[0]), BatchScatter.ChunkSizes(batch, devices));
        }
    }

    [Fact]
    public void DescriptionJoinsTheSizes() => Assert.Equal("2 + 2 + 1", BatchScatter.Describe(5, 4));
}
