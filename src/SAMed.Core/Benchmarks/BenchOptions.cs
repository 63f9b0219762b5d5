namespace SAMed.Benchmarks;

/// <summary>What the benchmark runs: the model, image size, batch and libtorch threads, and how often.</summary>
public sealed record BenchOptions
{
    public string ModelType { get; init; } = "vit_b";
    public int ImageSize { get; init; } = 512;
    public int Batch { get; init; } = 1;
    /// <summary>libtorch intra-op threads (0: leave libtorch's default).</summary>
    public int Threads { get; init; }
    public int Warmup { get; init; } = 1;
    public int Iterations { get; init; } = 5;
    public int NumClasses { get; init; } = 8;
    public int Rank { get; init; } = 4;
    /// <summary>The adaptation strategy trained in the step (lora, adapter, decoder, full).</summary>
    public string Strategy { get; init; } = Adaptation.Strategies.Lora;
    public int Seed { get; init; } = 1234;
    /// <summary>
    /// The device the model workloads run on (cpu, cuda or cuda:N); each run ends with the device synchronised, so a
    /// timed run includes the device's work. `bench` itself times the CPU (its matmul rate, data loading and memory
    /// children are CPU measurements); `doctor` times a device.
    /// </summary>
    public string Device { get; init; } = "cpu";
    /// <summary>Side of the square float32 product that measures the machine's matmul rate.</summary>
    public int MatmulSize { get; init; } = 2048;
    /// <summary>Inference with LoRA folded into the qkv weights (false: LoRA adapters run beside them).</summary>
    public bool MergeLora { get; init; } = true;
    /// <summary>
    /// Run the image encoder in bfloat16 at inference and in the training step (precision "bfloat16" of
    /// <see cref="Adaptation.TrainingPrecision"/>: LoRA, decoder, optimizer and loss stay float32).
    /// </summary>
    public bool Bfloat16 { get; init; }
    /// <summary>The training step's precision (a <see cref="Adaptation.TrainingPrecision"/> name).</summary>
    public string TrainingPrecision => Bfloat16 ? Adaptation.TrainingPrecision.Bfloat16 : Adaptation.TrainingPrecision.Float32;
    /// <summary>glibc's M_MMAP_THRESHOLD in bytes for the run (null: glibc's dynamic default); see <see cref="NativeAllocator"/>.</summary>
    public int? MmapThreshold { get; init; }
    /// <summary>Training: give freed heap pages back after each global-attention block (ImageEncoderViT.ReleaseHeapInTraining).</summary>
    public bool ReleaseHeap { get; init; }
    /// <summary>
    /// Runs of each workload in its memory child (at least warmup + 1). The peak is reported after warmup + 1 runs
    /// and after all of them: glibc's heap fragments over a training run, so the peak keeps rising for tens of steps.
    /// </summary>
    public int MemoryRuns { get; init; } = 12;
    /// <summary>Measure peak memory in child processes.</summary>
    public bool Memory { get; init; } = true;
    /// <summary>Measure data loading and augmentation.</summary>
    public bool Data { get; init; } = true;

    /// <summary>Runs after which the early peak is taken: warmup + 1, at least 2.</summary>
    public int EarlyMemoryRuns => Math.Max(2, Warmup + 1);

    public void ThrowIfInvalid()
    {
        if (MmapThreshold < 0 || ImageSize < 16 || Batch < 1 || Warmup < 0 || Iterations < 1 || Threads < 0 || NumClasses < 1 || Rank < 1 || MatmulSize < 1 || MemoryRuns < 1)
        {
            throw new ArgumentException(
                $"invalid benchmark options: mmap threshold {MmapThreshold} (>= 0), image size {ImageSize} (>= 16), batch {Batch} (>= 1), warmup {Warmup} (>= 0), iterations {Iterations} (>= 1), "
                + $"threads {Threads} (>= 0), classes {NumClasses} (>= 1), rank {Rank} (>= 1), matmul size {MatmulSize} (>= 1), memory runs {MemoryRuns} (>= 1)");
        }
        if (TorchInterop.TorchDevices.Problem(Device) is string device)
            throw new ArgumentException($"invalid benchmark options: {device}");
        var modelProblems = (ModelWorkloads.Spec(this) with { Precision = TrainingPrecision }).Problems();
        if (modelProblems.Count > 0)
            throw new ArgumentException($"invalid benchmark options: {string.Join("; ", modelProblems)}");
        if (Bfloat16 && !MergeLora)
            throw new ArgumentException("bfloat16 inference runs on the merged model; do not combine it with live LoRA");
    }
}
