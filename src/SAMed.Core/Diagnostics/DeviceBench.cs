using System.Globalization;
using SAMed.Benchmarks;
using SAMed.TorchInterop;
using TorchSharp;

namespace SAMed.Diagnostics;

/// <summary>
/// Memory of the device after a workload: on CUDA the device's used memory (cudaMemGetInfo; libtorch's cached blocks
/// stay reserved, so this is at least the workload's peak reservation), on the CPU this process's peak resident memory.
/// </summary>
public sealed record DeviceMemoryReading(long Bytes, string What);

/// <summary>The timed forward and training step on a device, with the memory they held.</summary>
public sealed record DeviceBenchResult(BenchOptions Options, SampleStats Forward, SampleStats Step, DeviceMemoryReading? AfterForward, DeviceMemoryReading? AfterSteps, long? StepGrowthBytes)
{
    public IEnumerable<string> Describe()
    {
        static string Seconds(SampleStats s) => string.Create(CultureInfo.InvariantCulture,
            $"median {s.Median:F3} s (min {s.Min:F3}, max {s.Max:F3}, {s.Count} runs)");
        yield return $"inference forward: {Seconds(Forward)}";
        yield return $"training step: {Seconds(Step)}";
        yield return AfterSteps is null
            ? "peak memory: not measurable here (TorchSharp 0.107 has no torch.cuda memory statistics, and no CUDA runtime library was found for cudaMemGetInfo)"
            : $"memory after the forward runs: {Gib(AfterForward?.Bytes)}; after the training steps: {Gib(AfterSteps.Bytes)} ({AfterSteps.What})";
        if (StepGrowthBytes is long growth)
            yield return string.Create(CultureInfo.InvariantCulture, $"device memory change from the first to the last timed step: {growth / 1048576.0:+0.0;-0.0;0} MiB (a leak grows it every step)");
    }

    private static string Gib(long? bytes) => bytes is long b ? string.Create(CultureInfo.InvariantCulture, $"{b / 1073741824.0:F2} GiB") : "n/a";
}

/// <summary>The benchmark's model workloads (<see cref="ModelWorkloads"/>) timed on the options' device.</summary>
public static class DeviceBench
{
    public static DeviceBenchResult Run(BenchOptions options, Action<string>? progress = null)
    {
        options.ThrowIfInvalid();
        progress ??= _ => { };
        var device = TorchDevices.Parse(options.Device);
        Func<DeviceMemoryReading?> memory = device.type == DeviceType.CUDA ? () => CudaUsed(device) : ProcessPeak;

        progress($"inference forward {options.ModelType} {options.ImageSize}, batch {options.Batch}, on {options.Device}");
        SampleStats forward;
        using (var inference = ModelWorkloads.Inference(options))
            forward = SampleStats.Measure(options.Warmup, options.Iterations, inference.Run);
        var afterForward = memory();

        progress($"training step ({options.Strategy}) on {options.Device}");
        var afterEachStep = new List<long>();
        SampleStats step;
        using (var training = ModelWorkloads.Training(options))
        {
            step = SampleStats.Measure(options.Warmup, options.Iterations, () =>
            {
                training.Run();
                if (device.type == DeviceType.CUDA && memory() is { } reading)
                    afterEachStep.Add(reading.Bytes);
            });
        }
        var afterSteps = memory();
        // Warmup steps are recorded too: the change is taken from the first timed step to the last.
        long? growth = afterEachStep.Count >= options.Warmup + 2 ? afterEachStep[^1] - afterEachStep[options.Warmup] : null;
        return new DeviceBenchResult(options, forward, step, afterForward, afterSteps, growth);
    }

    private static DeviceMemoryReading? CudaUsed(TorchSharp.torch.Device device) =>
        CudaRuntime.Memory(Math.Max(0, (int)device.index)) is { } info
            ? new DeviceMemoryReading(info.UsedBytes, $"device memory in use, cudaMemGetInfo: the CUDA context and libtorch's cached blocks, at least max_memory_reserved; total {info.TotalBytes / 1073741824.0:F1} GiB")
            : null;

    private static DeviceMemoryReading? ProcessPeak() =>
        PeakMemory.CurrentProcessPeakBytes() is long bytes ? new DeviceMemoryReading(bytes, "peak resident memory of this process, VmHWM") : null;
}
