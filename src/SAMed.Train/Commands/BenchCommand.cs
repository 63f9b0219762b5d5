using System.CommandLine;
using System.Globalization;
using SAMed.Benchmarks;

namespace SAMed.Train.Commands;

/// <summary>Times inference, a training step and data loading, measures peak memory and the machine's matmul rate.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var defaults = new BenchOptions();
        var model = new Option<string>("--model", "--vit-name") { Description = "vit_b, vit_l, vit_h or tiny.", DefaultValueFactory = _ => defaults.ModelType };
        var image = Int("--img-size", "Image size (SAMed's img_size).", defaults.ImageSize, "--img");
        var batch = Int("--batch-size", "Images per forward and training step.", defaults.Batch, "--batch");
        model.AcceptOnlyFromAmong([.. Modeling.SamBuilder.ModelTypes]);
        var threads = Int("--threads", "libtorch threads (0: its default).", defaults.Threads);
        var warmup = Int("--warmup", "Untimed runs before timing each part.", defaults.Warmup);
        var iterations = Int("--iterations", "Timed runs of each part (median and spread reported).", defaults.Iterations);
        var numClasses = Int("--num-classes", "Foreground classes (SAMed's Synapse: 8).", defaults.NumClasses);
        var rank = Int("--rank", "LoRA rank.", defaults.Rank);
        var strategy = new Option<string>("--strategy") { Description = "Adaptation strategy of the training step: lora, adapter, decoder or full.", DefaultValueFactory = _ => defaults.Strategy };
        strategy.AcceptOnlyFromAmong([.. Adaptation.Strategies.Names]);
        var matmul = Int("--matmul-size", "Side of the square float32 matmul that measures the machine's rate.", defaults.MatmulSize);
        var mmap = Int("--mmap-threshold", "glibc M_MMAP_THRESHOLD in bytes for this run (-1: glibc's dynamic default).", defaults.MmapThreshold ?? -1);
        var liveLora = new Option<bool>("--live-lora") { Description = "Inference with LoRA adapters beside qkv instead of merged into it." };
        var bf16 = new Option<bool>("--bf16") { Description = "Image encoder in bfloat16 for inference and the training step (LoRA, decoder, AdamW and loss stay float32; needs a CPU with fast bf16)." };
        var releaseHeap = new Option<bool>("--release-heap") { Description = "Training: return freed heap pages to the system after each global-attention block (less memory, slower step)." };
        var memoryRuns = Int("--memory-runs", "Runs of each workload in its peak-memory child (the peak is also given after warmup + 1).", defaults.MemoryRuns);
        var noMemory = new Option<bool>("--no-memory") { Description = "Skip the peak-memory child processes." };
        var noData = new Option<bool>("--no-data") { Description = "Skip the data loading benchmark." };
        var predict = new Option<string?>("--predict")
        {
            Description = "Instead of the other parts: time the whole predict of this NIfTI volume (random-init model, --batch slices per forward), its peak memory and its share of the matmul rate.",
        };
        var json = new Option<string?>("--output", "-o", "--json") { Description = "Also write the results as JSON to this file." };
        var child = new Option<string?>("--memory-child") { Description = "Internal: run one workload and report its peak memory.", Hidden = true };

        var command = new Command("bench", "Benchmark inference, a training step and data loading; report FLOP rate, memory and the machine's matmul limit.")
        {
            model, image, batch, threads, warmup, iterations, numClasses, rank, strategy, matmul, mmap, liveLora, bf16, releaseHeap, memoryRuns, noMemory, noData, predict, json, child,
        };
        command.SetAction(result =>
        {
            var options = new BenchOptions
            {
                ModelType = result.GetValue(model)!,
                ImageSize = result.GetValue(image),
                Batch = result.GetValue(batch),
                Threads = result.GetValue(threads),
                Warmup = result.GetValue(warmup),
                Iterations = result.GetValue(iterations),
                NumClasses = result.GetValue(numClasses),
                Rank = result.GetValue(rank),
                Strategy = result.GetValue(strategy)!,
                MatmulSize = result.GetValue(matmul),
                MmapThreshold = result.GetValue(mmap) is int threshold and >= 0 ? threshold : null,
                MergeLora = !result.GetValue(liveLora),
                Bfloat16 = result.GetValue(bf16),
                ReleaseHeap = result.GetValue(releaseHeap),
                MemoryRuns = result.GetValue(memoryRuns),
                Memory = !result.GetValue(noMemory),
                Data = !result.GetValue(noData),
            };
            options.ThrowIfInvalid();
            if (result.GetValue(predict) is string volume)
            {
                Console.Write(PredictBenchmark.Run(options, volume, line => Console.Error.WriteLine($"bench: {line}")).Table());
                return 0;
            }
            if (result.GetValue(child) is string workload)
            {
                BenchRunner.RunMemoryChild(options, Enum.Parse<MemoryWorkload>(workload, ignoreCase: true), Console.Out);
                return 0;
            }

            IReadOnlyList<(int Runs, long Bytes)> ChildPeak(MemoryWorkload workload)
            {
                var (executable, prefix) = PeakMemory.SelfCommand();
                string[] arguments =
                [
                    .. prefix, "bench", "--model", options.ModelType, "--img-size", Text(options.ImageSize), "--batch-size", Text(options.Batch),
                    "--threads", Text(options.Threads), "--warmup", Text(options.Warmup), "--num-classes", Text(options.NumClasses),
                    "--rank", Text(options.Rank), "--strategy", options.Strategy, "--mmap-threshold", Text(options.MmapThreshold ?? -1), .. options.MergeLora ? Array.Empty<string>() : ["--live-lora"],
                    .. options.Bfloat16 ? ["--bf16"] : Array.Empty<string>(),
                    .. options.ReleaseHeap ? ["--release-heap"] : Array.Empty<string>(),
                    "--memory-runs", Text(options.MemoryRuns), "--memory-child", workload.ToString(),
                ];
                return PeakMemory.RunChild(executable, arguments);
            }

            var bench = BenchRunner.Run(options, ChildPeak, line => Console.Error.WriteLine($"bench: {line}"));
            Console.Write(BenchReport.Table(bench));
            if (result.GetValue(json) is string path)
            {
                BenchReport.WriteJson(bench, path);
                Console.WriteLine($"wrote {path}");
            }
            return 0;
        });
        return command;
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static Option<int> Int(string name, string description, int defaultValue, params string[] aliases) =>
        new(name, aliases) { Description = description, DefaultValueFactory = _ => defaultValue };
}
