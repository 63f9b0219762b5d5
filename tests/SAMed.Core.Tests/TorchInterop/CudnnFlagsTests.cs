using SAMed.TorchInterop;

namespace SAMed.Tests.TorchInterop;

/// <summary>The cuDNN flags are libtorch's global ones: set, read back, and restored (they only act on CUDA kernels).</summary>
public sealed class CudnnFlagsTests
{
    [Fact]
    public void SamedsDeterministicSettingReadsBackFromLibtorch()
    {
        bool deterministic = CudnnFlags.Deterministic, benchmark = CudnnFlags.Benchmark;
        try
        {
            CudnnFlags.Apply(deterministic: true);
            Assert.Equal((true, false), (CudnnFlags.Deterministic, CudnnFlags.Benchmark));
            CudnnFlags.Apply(deterministic: false);
            Assert.Equal((false, true), (CudnnFlags.Deterministic, CudnnFlags.Benchmark));
        }
        finally
        {
            CudnnFlags.Deterministic = deterministic;
            CudnnFlags.Benchmark = benchmark;
        }
    }
}
