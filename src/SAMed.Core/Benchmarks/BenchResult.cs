namespace SAMed.Benchmarks;

/// <summary>Everything one benchmark run measured. Times are seconds, memory bytes, rates GFLOP/s.</summary>
public sealed record BenchResult
{
    public required BenchOptions Options { get; init; }
    public required int Threads { get; init; }
    public required string Machine { get; init; }
    public required string LoadAverage { get; init; }
    public required string Libtorch { get; init; }
    public required FlopCount InferenceFlops { get; init; }
    public required FlopCount TrainingForwardFlops { get; init; }
    public required SampleStats Matmul { get; init; }
    public required double MatmulGflops { get; init; }
    public required SampleStats InferenceForward { get; init; }
    public required SampleStats TrainingStep { get; init; }
    public SampleStats? DataPerBatch { get; init; }
    /// <summary>VmHWM after all <see cref="MemoryRuns"/> runs of the memory child.</summary>
    public long? InferencePeakBytes { get; init; }
    public long? TrainingPeakBytes { get; init; }
    /// <summary>VmHWM after warmup + 1 runs (at least 2).</summary>
    public long? InferencePeakEarlyBytes { get; init; }
    public long? TrainingPeakEarlyBytes { get; init; }
    public int? MemoryRuns { get; init; }

    public double ForwardGflops => InferenceFlops.Total / InferenceForward.Median / 1e9;

    public double FractionOfMatmul => ForwardGflops / MatmulGflops;

    public double TrainToForwardRatio => TrainingStep.Median / InferenceForward.Median;

    /// <summary>Forward FLOP per CPU-second over matmul FLOP per CPU-second: the efficiency with the load of other processes factored out.</summary>
    public double? FractionOfMatmulByCpu => InferenceForward.CpuMedian is double forward && Matmul.CpuMedian is double matmul && forward > 0 && matmul > 0
        ? (InferenceFlops.Total / forward) / (2.0 * Options.MatmulSize * Options.MatmulSize * Options.MatmulSize / matmul)
        : null;

    /// <summary>Training step over inference forward in CPU time.</summary>
    public double? TrainToForwardRatioByCpu => TrainingStep.CpuMedian is double train && InferenceForward.CpuMedian is double forward && forward > 0
        ? train / forward
        : null;
}
