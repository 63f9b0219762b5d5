using TorchSharp;

namespace SAMed.Benchmarks;

/// <summary>Which workload a memory child runs.</summary>
public enum MemoryWorkload
{
    Inference,
    Training,
}

/// <summary>Runs the whole benchmark in this process, with peak memory measured by a caller-supplied child runner.</summary>
public static class BenchRunner
{
    /// <param name="childPeak">Runs the given workload in a fresh process and returns its VmHWM in bytes after each run.</param>
    /// <param name="progress">Receives a line before each part.</param>
    public static BenchResult Run(BenchOptions options, Func<MemoryWorkload, IReadOnlyList<(int Runs, long Bytes)>>? childPeak, Action<string>? progress = null)
    {
        options.ThrowIfInvalid();
        ApplyThreads(options);
        progress ??= _ => { };
        var config = ModelWorkloads.Config(options);

        progress($"matmul {options.MatmulSize}x{options.MatmulSize} float32 ({Load()})");
        var matmulBefore = MatmulRate.Measure(options.MatmulSize);

        // The forward is timed in two halves, before and after the training steps, so that a slow drift of the
        // machine's speed (other tenants of a shared host) weighs on both sides of the step / forward ratio alike.
        progress($"inference forward {options.ModelType} {options.ImageSize} batch {options.Batch} ({Load()})");
        using var inferenceWorkload = ModelWorkloads.Inference(options);
        int firstHalf = (options.Iterations + 1) / 2, secondHalf = options.Iterations - firstHalf;
        var inferenceBefore = SampleStats.Measure(options.Warmup, firstHalf, inferenceWorkload.Run);

        progress($"training step ({Load()})");
        SampleStats training;
        using (var workload = ModelWorkloads.Training(options))
            training = SampleStats.Measure(options.Warmup, options.Iterations, workload.Run);

        var inference = inferenceBefore;
        if (secondHalf > 0)
        {
            progress($"inference forward again ({Load()})");
            inference = SampleStats.Combine(inferenceBefore, SampleStats.Measure(options.Warmup, secondHalf, inferenceWorkload.Run));
        }

        progress($"matmul again ({Load()})");
        var matmulAfter = MatmulRate.Measure(options.MatmulSize);
        var matmul = SampleStats.Combine(matmulBefore.Seconds, matmulAfter.Seconds);

        SampleStats? data = null;
        if (options.Data)
        {
            progress($"data loading and augmentation ({Load()})");
            data = DataBenchmark.Measure(options, config.ImageEmbeddingSize * 4);
        }

        IReadOnlyList<(int Runs, long Bytes)>? inferencePeaks = null, trainingPeaks = null;
        if (options.Memory && childPeak is not null)
        {
            progress($"peak memory of inference (child process, {options.MemoryRuns} runs)");
            inferencePeaks = childPeak(MemoryWorkload.Inference);
            progress($"peak memory of training (child process, {options.MemoryRuns} steps)");
            trainingPeaks = childPeak(MemoryWorkload.Training);
        }

        return new BenchResult
        {
            Options = options,
            Threads = torch.get_num_threads(),
            Machine = $"{Environment.ProcessorCount} logical CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}",
            LoadAverage = Load(),
            Libtorch = torch.__version__,
            InferenceFlops = ForwardFlops.Count(config, options.Batch, options.MergeLora ? 0 : options.Rank),
            TrainingForwardFlops = ForwardFlops.Count(config, options.Batch, options.Rank),
            Matmul = matmul,
            // The practical limit is the fastest product: a slower one measures interference (other processes,
            // page faults), and the median of a short, noisy run can fall below what the forward itself achieves.
            MatmulGflops = 2.0 * options.MatmulSize * options.MatmulSize * options.MatmulSize / matmul.Min / 1e9,
            InferenceForward = inference,
            TrainingStep = training,
            DataPerBatch = data,
            InferencePeakBytes = inferencePeaks?[^1].Bytes,
            TrainingPeakBytes = trainingPeaks?[^1].Bytes,
            InferencePeakEarlyBytes = PeakAfter(inferencePeaks, options.EarlyMemoryRuns),
            TrainingPeakEarlyBytes = PeakAfter(trainingPeaks, options.EarlyMemoryRuns),
            MemoryRuns = inferencePeaks?[^1].Runs,
        };
    }

    /// <summary>
    /// What a memory child does: build the workload, run it <see cref="BenchOptions.MemoryRuns"/> times (at least
    /// warmup + 1) and report VmHWM on the output after each run.
    /// </summary>
    public static void RunMemoryChild(BenchOptions options, MemoryWorkload workload, TextWriter output)
    {
        options.ThrowIfInvalid();
        ApplyThreads(options);
        using var work = workload == MemoryWorkload.Inference ? ModelWorkloads.Inference(options) : ModelWorkloads.Training(options);
        int runs = Math.Max(options.MemoryRuns, options.EarlyMemoryRuns);
        for (int i = 1; i <= runs; i++)
        {
            work.Run();
            PeakMemory.Report(output, i);
        }
    }

    private static long? PeakAfter(IReadOnlyList<(int Runs, long Bytes)>? peaks, int runs) =>
        peaks?.Where(p => p.Runs <= runs).Select(p => (long?)p.Bytes).LastOrDefault();

    /// <summary>The 1, 5 and 15 minute load averages (/proc/loadavg), or "n/a".</summary>
    public static string Load()
    {
        const string path = "/proc/loadavg";
        if (!File.Exists(path))
            return "load n/a";
        var parts = File.ReadAllText(path).Split(' ');
        return $"load {parts[0]} {parts[1]} {parts[2]}";
    }

    private static void ApplyThreads(BenchOptions options)
    {
        if (options.MmapThreshold is int threshold)
            NativeAllocator.SetMmapThreshold(threshold);
        if (options.Threads > 0)
            torch.set_num_threads(options.Threads);
    }
}
