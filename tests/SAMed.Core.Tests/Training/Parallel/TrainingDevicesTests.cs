using SAMed.Training;
using SAMed.Training.Parallel;

namespace SAMed.Tests.Training.Parallel;

public class TrainingDevicesTests
{
    private static readonly TrainConfig Smoke = TrainPresets.Smoke;

    [Fact]
    public void DevicesComeFromTheListOrFromNGpuWithDeviceCuda()
    {
        Assert.Equal(["cpu", "cpu"], TrainingDevices.For(Smoke with { Devices = ["cpu", "cpu"] }, cudaDevices: 0));
        Assert.Equal(["cuda:0", "cuda:1", "cuda:2", "cuda:3"], TrainingDevices.For(Smoke with { Device = "cuda", NGpu = 4 }, cudaDevices: 4));
        // SAMed's nn.DataParallel uses the GPUs there are: n_gpu 4 on two GPUs splits over two.
        Assert.Equal(["cuda:0", "cuda:1"], TrainingDevices.For(Smoke with { Device = "cuda", NGpu = 4 }, cudaDevices: 2));
        Assert.Equal(["cuda"], TrainingDevices.For(Smoke with { Device = "cuda", NGpu = 2 }, cudaDevices: 1));
        Assert.Equal(["cuda:1"], TrainingDevices.For(Smoke with { Device = "cuda:1", NGpu = 2 }, cudaDevices: 2));
        Assert.Equal(["cpu"], TrainingDevices.For(Smoke with { NGpu = 2 }, cudaDevices: 0));
        Assert.Equal(["cuda:1"], TrainingDevices.For(Smoke with { Devices = ["cuda:1"] }, cudaDevices: 2));
        Assert.Equal(["cuda"], TrainingDevices.For(Smoke with { Mode = "promptable", Device = "cuda", NGpu = 2 }, cudaDevices: 2));
    }

    [Fact]
    public void DeviceListProblemsAreNamed()
    {
        Assert.Empty(TrainConfigFile.Problems(Smoke with { Devices = ["cpu", "cpu"] }));
        Assert.Empty(TrainConfigFile.Problems(Smoke with { Devices = ["cuda:0", "cuda:1"] }));
        Assert.Empty(TrainConfigFile.Problems(Smoke with { Device = "cuda", Devices = ["cuda:0", "cuda:1"] }));
        Assert.Contains("devices must name at least one device (or be left out to train on device)", TrainConfigFile.Problems(Smoke with { Devices = [] }));
        Assert.Contains("devices: device 'gpu1' must be cpu, cuda or cuda:N", TrainConfigFile.Problems(Smoke with { Devices = ["cuda:0", "gpu1"] }));
        Assert.Contains("devices [cpu, cuda:0] mix cpu and cuda: the replicas must be all CPU or all CUDA",
            TrainConfigFile.Problems(Smoke with { Devices = ["cpu", "cuda:0"] }));
        Assert.Contains("devices name cuda:0 2 times: one replica per CUDA device", TrainConfigFile.Problems(Smoke with { Devices = ["cuda", "cuda:0"] }));
        Assert.Contains("device cuda:1 and devices[0] cuda:0 differ: with devices, the model lives on the first of them (leave device out)",
            TrainConfigFile.Problems(Smoke with { Device = "cuda:1", Devices = ["cuda:0", "cuda:1"] }));
        Assert.Contains("devices: data parallelism trains the semantic mode; a promptable run uses device",
            TrainConfigFile.Problems(Smoke with { Mode = "promptable", Devices = ["cpu", "cpu"] }));
    }

    [SkippableFact]
    public void UnavailableCudaDevicesAreEnvironmentProblems()
    {
        Skip.If(SAMed.TorchInterop.TorchDevices.CudaAvailable, "CUDA is available here");
        var problems = TrainConfigFile.EnvironmentProblems(Smoke with { Devices = ["cuda:0", "cuda:1"] });
        Assert.Contains(problems, p => p.StartsWith("devices: device cuda:0: CUDA is not available to libtorch (", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("devices: device cuda:1: CUDA is not available to libtorch (", StringComparison.Ordinal));
        Assert.Empty(TrainConfigFile.EnvironmentProblems(Smoke with { Devices = ["cpu", "cpu"] }));
    }

    [Fact]
    public void OverridesTakeACommaListOrJson()
    {
        Assert.Equal(["cpu", "cpu"], TrainConfigFile.Apply(Smoke, ["devices=cpu,cpu"]).Devices!);
        Assert.Equal(["cuda:0", "cuda:1"], TrainConfigFile.Apply(Smoke, ["devices=[\"cuda:0\", \"cuda:1\"]"]).Devices!);
        Assert.Equal(["cuda:0"], TrainConfigFile.Apply(Smoke, ["devices=cuda:0"]).Devices!);
        Assert.Null(TrainConfigFile.Apply(Smoke with { Devices = ["cpu"] }, ["devices=null"]).Devices);
        var config = Smoke with { Devices = ["cpu", "cpu"] };
        Assert.Equal(config.Devices, TrainConfigFile.Parse(TrainConfigFile.ToJson(config), "round trip").Devices);
    }

    [Fact]
    public void TheRunLogLineSaysHowEachBatchIsSplit()
    {
        Assert.Null(TrainingDevices.Describe(Smoke, ["cpu"], 128));
        Assert.Equal("data parallel on 2 devices (cpu, cpu): each step's 8 images split 4 + 4; the loss and the optimizer step on cpu",
            TrainingDevices.Describe(Smoke, ["cpu", "cpu"], 128));
        Assert.Equal("data parallel on 3 devices (cuda:0, cuda:1, cuda:2): each step's 8 images split 3 + 3 + 2 (the epoch's last batch of 5: 2 + 2 + 1); the loss and the optimizer step on cuda:0",
            TrainingDevices.Describe(Smoke, ["cuda:0", "cuda:1", "cuda:2"], 125));
        Assert.Equal("data parallel on 2 devices (cpu, cpu): each step's 8 images in 2 micro-batches, each of 4 split 2 + 2; the loss and the optimizer step on cpu",
            TrainingDevices.Describe(Smoke with { GradAccumSteps = 2 }, ["cpu", "cpu"], 128));
        Assert.Equal("data parallel on 4 devices (cpu, cpu, cpu, cpu): each step's 2 images split 1 + 1; 2 device(s) get no images (torch.chunk makes 2 chunks); the loss and the optimizer step on cpu",
            TrainingDevices.Describe(Smoke with { BatchSize = 2 }, ["cpu", "cpu", "cpu", "cpu"], 128));
    }
}
