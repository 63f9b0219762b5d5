using System.Globalization;
using SAMed.TorchInterop;

namespace SAMed.Training.Parallel;

/// <summary>
/// The devices a run trains on: <see cref="TrainConfig.Devices"/> when given; with device cuda and n_gpu &gt; 1,
/// cuda:0..n_gpu-1 (at most the CUDA devices there are: SAMed wraps its model in nn.DataParallel, which uses every
/// visible GPU, and with one GPU its batch_size * n_gpu images all go to that one); otherwise the one device. A
/// promptable run uses one device.
/// </summary>
public static class TrainingDevices
{
    /// <param name="cudaDevices">The CUDA devices libtorch sees (<see cref="TorchDevices.CudaDeviceCount"/>).</param>
    public static IReadOnlyList<string> For(TrainConfig c, int cudaDevices)
    {
        if (c.Mode != "semantic")
            return [c.Device];
        if (c.Devices is { Length: > 0 } devices)
            return devices;
        int gpus = Math.Min(c.NGpu, cudaDevices);
        if (c.Device == "cuda" && gpus > 1)
            return [.. Enumerable.Range(0, gpus).Select(i => $"cuda:{i}")];
        return [c.Device];
    }

    /// <summary>The devices of this machine's run (<see cref="For(TrainConfig, int)"/> with libtorch's CUDA count).</summary>
    public static IReadOnlyList<string> For(TrainConfig c) => For(c, c.Device.StartsWith("cuda", StringComparison.Ordinal) ? TorchDevices.CudaDeviceCount : 0);

    /// <summary>What is wrong with <see cref="TrainConfig.Devices"/> by itself (empty when usable or not given).</summary>
    public static IReadOnlyList<string> Problems(TrainConfig c)
    {
        if (c.Devices is null)
            return [];
        if (c.Devices.Length == 0)
            return ["devices must name at least one device (or be left out to train on device)"];
        var problems = c.Devices.Select(TorchDevices.FormatProblem).OfType<string>().Select(p => $"devices: {p}").Distinct().ToList();
        if (problems.Count > 0)
            return problems;
        if (c.Devices.Any(d => d == "cpu") && c.Devices.Any(d => d != "cpu"))
            problems.Add($"devices [{string.Join(", ", c.Devices)}] mix cpu and cuda: the replicas must be all CPU or all CUDA");
        foreach (var twice in c.Devices.Where(d => d != "cpu").GroupBy(CudaIndex).Where(g => g.Count() > 1))
            problems.Add($"devices name cuda:{twice.Key} {twice.Count()} times: one replica per CUDA device");
        if (c.Device != "cpu" && !SameDevice(c.Device, c.Devices[0]))
            problems.Add($"device {c.Device} and devices[0] {c.Devices[0]} differ: with devices, the model lives on the first of them (leave device out)");
        if (c.Mode != "semantic")
            problems.Add($"devices: data parallelism trains the semantic mode; a {c.Mode} run uses device");
        return problems;
    }

    /// <summary>
    /// The run log's line for a data-parallel run: the devices and how a step's batch is split over them (and the
    /// epoch's last, smaller batch, and the micro-batches under accumulation); null for one device.
    /// </summary>
    public static string? Describe(TrainConfig c, IReadOnlyList<string> devices, int trainingSlices)
    {
        if (devices.Count < 2)
            return null;
        int batch = c.EffectiveBatchSize;
        string line = string.Create(CultureInfo.InvariantCulture,
            $"data parallel on {devices.Count} devices ({string.Join(", ", devices)}): ");
        line += c.GradAccumSteps == 1
            ? $"each step's {batch} images split {BatchScatter.Describe(batch, devices.Count)}"
            : $"each step's {batch} images in {c.GradAccumSteps} micro-batches, each of {MicroBatch(batch, c.GradAccumSteps)} split {BatchScatter.Describe(MicroBatch(batch, c.GradAccumSteps), devices.Count)}";
        int last = trainingSlices % batch;
        if (last > 0 && c.GradAccumSteps == 1)
            line += $" (the epoch's last batch of {last}: {BatchScatter.Describe(last, devices.Count)})";
        int used = BatchScatter.ChunkSizes(c.GradAccumSteps == 1 ? batch : MicroBatch(batch, c.GradAccumSteps), devices.Count).Length;
        if (used < devices.Count)
            line += $"; {devices.Count - used} device(s) get no images (torch.chunk makes {used} chunks)";
        return line + "; the loss and the optimizer step on " + devices[0];
    }

    private static long MicroBatch(int batch, int steps) => (batch + steps - 1) / steps;

    private static int CudaIndex(string name) => name == "cuda" ? 0 : int.Parse(name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture);

    private static bool SameDevice(string a, string b) =>
        a == b || (a != "cpu" && b != "cpu" && CudaIndex(a) == CudaIndex(b));
}
