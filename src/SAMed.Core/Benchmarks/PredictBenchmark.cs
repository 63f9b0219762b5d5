using System.Diagnostics;
using System.Globalization;
using SAMed.Inference;
using SAMed.IO;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Benchmarks;

/// <summary>What <see cref="PredictBenchmark"/> measured: the whole predict of one volume against the model's matmul rate.</summary>
public sealed record PredictBenchResult(
    string Volume,
    int[] Shape,
    int Slices,
    double Seconds,
    double ModelSeconds,
    double ForwardGflop,
    double MatmulGflops,
    long? PeakBytes,
    double ReadSeconds,
    string Load)
{
    public double SecondsPerSlice => Seconds / Slices;

    /// <summary>Analytic forward FLOPs of all slices over the whole command's wall time, as a fraction of the matmul rate.</summary>
    public double MatmulFraction => ForwardGflop * Slices / Seconds / MatmulGflops;

    public string Table()
    {
        var c = CultureInfo.InvariantCulture;
        long voxels = Shape.Aggregate(1L, (a, b) => a * b);
        return string.Join(Environment.NewLine,
            $"predict {Volume} [{string.Join("x", Shape)}], {Slices} slices ({Load})",
            string.Create(c, $"  whole predict       {Seconds:F1} s = {SecondsPerSlice:F3} s/slice"),
            string.Create(c, $"  model forward       {ModelSeconds:F1} s ({ModelSeconds / Seconds:P1} of the wall time; the rest reads, windows, zooms and writes)"),
            string.Create(c, $"  forward FLOPs       {ForwardGflop:F2} GFLOP/slice; whole predict {ForwardGflop * Slices / Seconds:F1} GFLOP/s = {MatmulFraction:P1} of the matmul rate ({MatmulGflops:F1} GFLOP/s)"),
            string.Create(c, $"  read alone          {ReadSeconds:F2} s (Nifti.Read: decompress and parse, timed again after the run)"),
            PeakBytes is long peak
                ? string.Create(c, $"  peak resident       {peak / 1e9:F3} GB (VmHWM; {peak / (double)voxels:F2} bytes per voxel of the input, model included)")
                : "  peak resident       n/a",
            "");
    }
}

/// <summary>
/// `bench --predict FILE`: the whole predict command on a real volume (read, window, SAMed's zooms, the model in
/// batches, label map written) with a randomly initialised model of the bench's architecture (LoRA merged, the encoder in
/// bfloat16 with --bf16), timed once; the model's share of the time, the process's peak resident memory, and the
/// rate the whole command reaches against libtorch's matmul rate; after the peak is read, the volume is read once more
/// alone (decompression time) and the matmul rate measured, so neither raises the peak.
/// </summary>
public static class PredictBenchmark
{
    public static PredictBenchResult Run(BenchOptions options, string volume, Action<string>? progress = null)
    {
        options.ThrowIfInvalid();
        if (options.Threads > 0)
            torch.set_num_threads(options.Threads);
        progress ??= _ => { };
        var spec = ModelWorkloads.Spec(options) with { Strategy = Adaptation.Strategies.Lora };
        torch.manual_seed(options.Seed);
        using var adapted = Adaptation.ModelFactory.Create(spec);
        // As an exported checkpoint runs: LoRA folded into qkv; disposing the adapted model disposes the SAM it wraps.
        var model = SegmentationModel.FromModules(InferenceConfig.FromSpec(spec), adapted.Sam, adapted, mergeLora: true);
        if (options.Bfloat16)
            model.Sam.ImageEncoder.to(ScalarType.BFloat16);

        var modelTime = new Stopwatch();
        Tensor TimedSegmentBatch(Tensor images)
        {
            modelTime.Start();
            try
            {
                return model.SegmentBatch(images);
            }
            finally
            {
                modelTime.Stop();
            }
        }

        var segmenter = new SamedSliceSegmenter(TimedSegmentBatch, options.NumClasses, inputSize: 224, options.ImageSize);
        var predictor = new VolumePredictor(segmenter, new PredictOptions { BatchSize = options.Batch });
        string output = Path.Combine(Path.GetTempPath(), $"samed-bench-predict-{Guid.NewGuid():N}.nii.gz");
        progress($"predict {volume} with random-init {options.ModelType} {options.ImageSize}, batch {options.Batch} ({BenchRunner.Load()})");
        try
        {
            var watch = Stopwatch.StartNew();
            var result = predictor.PredictFile(volume, output);
            watch.Stop();
            long? peak = PeakMemory.CurrentProcessPeakBytes();
            string load = BenchRunner.Load();
            var read = Stopwatch.StartNew();
            Nifti.Read(volume);
            read.Stop();
            progress($"matmul {options.MatmulSize}x{options.MatmulSize} float32 ({BenchRunner.Load()})");
            var matmul = MatmulRate.Measure(options.MatmulSize);
            double fastest = 2.0 * options.MatmulSize * options.MatmulSize * options.MatmulSize / matmul.Seconds.Min / 1e9;
            int slices = result.Shape[predictor.Options.SliceAxis];
            return new PredictBenchResult(volume, result.Shape, slices, watch.Elapsed.TotalSeconds, modelTime.Elapsed.TotalSeconds,
                ForwardFlops.Count(spec.Architecture, 1, 0).Total / 1e9, fastest, peak, read.Elapsed.TotalSeconds, load);
        }
        finally
        {
            File.Delete(output);
        }
    }
}
