using SAMed.TorchInterop;
using TorchSharp;

namespace SAMed.Tests.TorchInterop;

/// <summary>Device names: cpu, cuda or cuda:N, checked against what libtorch can use.</summary>
public class TorchDevicesTests
{
    [Fact]
    public void CpuParses()
    {
        Assert.Null(TorchDevices.Problem("cpu"));
        Assert.Equal(DeviceType.CPU, TorchDevices.Parse("cpu").type);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    [InlineData("cuda:7")]
    public void CudaNamesAreWellFormed(string name) => Assert.Null(TorchDevices.FormatProblem(name));

    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    public void CudaIsAProblemExactlyWhenLibtorchHasNoCuda(string name)
    {
        if (torch.cuda.is_available())
        {
            Assert.Null(TorchDevices.Problem(name));
            Assert.Equal(DeviceType.CUDA, TorchDevices.Parse(name).type);
        }
        else
        {
            string? problem = TorchDevices.Problem(name);
            Assert.NotNull(problem);
            Assert.Contains($"device {name}:", problem);
            Assert.Contains("CUDA is not available", problem);
            var error = Assert.Throws<ArgumentException>(() => TorchDevices.Parse(name));
            Assert.Contains(problem, error.Message);
            Assert.False(TorchDevices.CudaAvailable);
            Assert.Equal(0, TorchDevices.CudaDeviceCount);
        }
    }

    [Fact]
    public void CudaIndexBeyondTheDevicesIsAProblem()
    {
        string name = $"cuda:{TorchDevices.CudaDeviceCount}";
        string? problem = TorchDevices.Problem(name);
        Assert.NotNull(problem);
        Assert.Contains(name, problem);
        Assert.Contains(TorchDevices.CudaAvailable ? $"only {TorchDevices.CudaDeviceCount} CUDA device(s)" : "CUDA is not available", problem);
    }

    [Theory]
    [InlineData("gpu0")]
    [InlineData("gpu")]
    [InlineData("CPU")]
    [InlineData("")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:+1")]
    [InlineData("cuda: 1")]
    [InlineData("cuda:x")]
    [InlineData("cuda:99999999999")]
    [InlineData("cuda0")]
    public void MisspeltNamesAreErrorsNamingThem(string name)
    {
        Assert.Equal($"device '{name}' must be cpu, cuda or cuda:N", TorchDevices.FormatProblem(name));
        Assert.Equal(TorchDevices.FormatProblem(name), TorchDevices.Problem(name));
        var error = Assert.Throws<ArgumentException>(() => TorchDevices.Parse(name));
        Assert.Contains($"'{name}'", error.Message);
    }
}
