using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SAMed.Benchmarks;

/// <summary>The benchmark's table (text) and JSON file.</summary>
public static class BenchReport
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Table(BenchResult r)
    {
        var o = r.Options;
        var text = new StringBuilder();
        void Line(string name, string value) => text.AppendLine(CultureInfo.InvariantCulture, $"{name,-34} {value}");
        string Timing(SampleStats s) => string.Create(CultureInfo.InvariantCulture,
            $"median {s.Median:F3} s  (min {s.Min:F3}, max {s.Max:F3}, IQR {100 * s.RelativeSpread:F1}% of median, n={s.Count}; CPU {s.CpuMedian:F3} s)");
        string Gib(long? bytes) => bytes is long b ? string.Create(CultureInfo.InvariantCulture, $"{b / 1073741824.0:F3} GiB") : "not measured";

        text.AppendLine(CultureInfo.InvariantCulture,
            $"SAMed.NET bench: {o.ModelType} {o.ImageSize}x{o.ImageSize} batch {o.Batch}, {r.Threads} threads, {o.NumClasses} classes, {o.Strategy}{(o.Strategy == Adaptation.Strategies.Lora ? $" rank {o.Rank}" : "")}, "
            + $"inference {(o.MergeLora ? "LoRA merged" : "LoRA live")}{(o.Bfloat16 ? ", encoder bfloat16" : ", float32")}, training {o.TrainingPrecision}, "
            + $"malloc mmap threshold {(o.MmapThreshold is int t ? t.ToString(CultureInfo.InvariantCulture) : "glibc default")}{(o.ReleaseHeap ? ", heap released after global blocks in training" : "")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"{r.Machine}; libtorch {r.Libtorch}; {r.LoadAverage}; warmup {o.Warmup}, iterations {o.Iterations}");
        Line($"matmul {o.MatmulSize}^2 float32", $"{Timing(r.Matmul)}  = {r.MatmulGflops:F1} GFLOP/s at the fastest run");
        Line("inference forward (no grad)", Timing(r.InferenceForward));
        Line(o.Bfloat16 ? "training step, bf16 encoder" : "training step (fwd+loss+bwd+AdamW)", Timing(r.TrainingStep));
        if (r.DataPerBatch is not null)
            Line("data load + augment per batch", Timing(r.DataPerBatch));
        Line("forward GFLOP (analytic)", string.Create(CultureInfo.InvariantCulture,
            $"{r.InferenceFlops.Total / 1e9:F2} (encoder {r.InferenceFlops.Encoder / 1e9:F2}: qkv+proj {r.InferenceFlops.QkvProj / 1e9:F2}, attention {r.InferenceFlops.Attention / 1e9:F2}, "
            + $"rel-pos {r.InferenceFlops.RelPos / 1e9:F2}, MLP {r.InferenceFlops.Mlp / 1e9:F2}, LoRA {r.InferenceFlops.Lora / 1e9:F3}, neck {r.InferenceFlops.Neck / 1e9:F2}, patch {r.InferenceFlops.PatchEmbed / 1e9:F2}; decoder {(r.InferenceFlops.Decoder + r.InferenceFlops.PromptEncoder) / 1e9:F2})"));
        Line("forward achieved", string.Create(CultureInfo.InvariantCulture, $"{r.ForwardGflops:F1} GFLOP/s = {100 * r.FractionOfMatmul:F1}% of the matmul rate"));
        Line("forward achieved, CPU time", string.Create(CultureInfo.InvariantCulture, $"{100 * r.FractionOfMatmulByCpu:F1}% of the matmul rate per CPU-second"));
        Line("training step / forward", string.Create(CultureInfo.InvariantCulture, $"{r.TrainToForwardRatio:F2} x (CPU time {r.TrainToForwardRatioByCpu:F2} x)"));
        string Peaks(long? early, long? last) => last is null
            ? "not measured"
            : $"{Gib(last)} after {r.MemoryRuns} runs ({Gib(early)} after {o.EarlyMemoryRuns})";
        Line("peak memory inference (VmHWM)", Peaks(r.InferencePeakEarlyBytes, r.InferencePeakBytes));
        Line("peak memory training (VmHWM)", Peaks(r.TrainingPeakEarlyBytes, r.TrainingPeakBytes));
        return text.ToString();
    }

    public static string ToJson(BenchResult result)
    {
        var document = new
        {
            result,
            derived = new
            {
                forward_gflop = result.InferenceFlops.Total / 1e9,
                forward_gflops_per_second = result.ForwardGflops,
                fraction_of_matmul = result.FractionOfMatmul,
                train_to_forward_ratio = result.TrainToForwardRatio,
                fraction_of_matmul_by_cpu = result.FractionOfMatmulByCpu,
                train_to_forward_ratio_by_cpu = result.TrainToForwardRatioByCpu,
            },
        };
        return JsonSerializer.Serialize(document, Json);
    }

    /// <summary>Writes the JSON to a temporary file beside <paramref name="path"/>, then moves it into place.</summary>
    public static void WriteJson(BenchResult result, string path)
    {
        IO.AtomicFile.WriteText(path, ToJson(result));
    }
}
