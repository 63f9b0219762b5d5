using System.CommandLine;
using System.Globalization;
using SAMed.Data;
using SAMed.Evaluation;
using SAMed.Inference;
using TorchSharp;

namespace SAMed.Train.Commands;

/// <summary>SAMed's test.py: segment test volumes slice by slice and report Dice and HD95 per case and class.</summary>
public static class TestCommand
{
    public static Command Create()
    {
        var model = new ModelCommandOptions();
        var volumePath = new Option<string?>("--volume-path")
        {
            Description = "Test volumes: a data root holding test_vol_h5/, or the folder of NAME.npy.h5 files itself (SAMed's --volume_path).",
        };
        var listDir = new Option<string?>("--list-dir") { Description = "Folder with test_vol.txt (default: the volume path)." };
        var images = new Option<string?>("--images") { Description = "Instead of h5 volumes: a folder of NIfTI images (CT, windowed as prepare does)..." };
        var labels = new Option<string?>("--labels") { Description = "...and the folder of their NIfTI label maps." };
        var labelMap = new Option<string>("--label-map")
        {
            Description = "For NIfTI labels: synapse13, totalseg, identity or a JSON file (as prepare).",
            DefaultValueFactory = _ => "identity",
        };
        var batch = new Option<int>("--batch") { Description = "Slices per forward pass.", DefaultValueFactory = _ => 8 };
        var spacing = new Option<string?>("--spacing")
        {
            Description = "HD95 in mm: voxel size x,y,z (h5 volumes carry none), or 'header' for NIfTI input. Default: unit voxels, as SAMed.",
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Folder for log.txt (SAMed's test log), report.txt (tables) and metrics.csv (every number).",
            DefaultValueFactory = _ => "test_output",
        };
        var saveNifti = new Option<string?>("--save-nifti") { Description = "Folder for CASE_pred/_img/_gt.nii.gz (SAMed's --is_savenii)." };
        var prompt = new Option<string?>("--prompt")
        {
            Description = "Promptable mode: evaluate a promptable SAM (--sam-checkpoint [+ --lora of a promptable run]) with a box or point per slice and class, from the ground truth (MedSAM's evaluation).",
        };
        var pixelNorm = new Option<string>("--pixel-norm") { Description = "Promptable mode: sam or medsam (see predict).", DefaultValueFactory = _ => "sam" };

        var command = new Command("test", "Evaluate a SAMed model on test volumes with SAMed's protocol (Dice and HD95 per case and class).")
        {
            volumePath, listDir, images, labels, labelMap, batch, spacing, output, saveNifti, prompt, pixelNorm,
        };
        model.AddTo(command);
        command.SetAction(result => ModelCommandOptions.Guard(() =>
        {
            model.ApplyThreads(result);
            string outputDir = result.GetValue(output)!;
            Directory.CreateDirectory(outputDir);
            using var log = new TestLog(Path.Combine(outputDir, "log.txt"));

            IReadOnlyList<VolumeTestItem> volumes;
            string? niftiImages = result.GetValue(images), niftiLabels = result.GetValue(labels);
            if (niftiImages is not null || niftiLabels is not null)
            {
                if (niftiImages is null || niftiLabels is null)
                    throw new ArgumentException("--images and --labels go together");
                volumes = VolumeTestSource.FromNifti(PrepareCases.FromFolders(niftiImages, niftiLabels), LabelMap.Get(result.GetValue(labelMap)!));
            }
            else
            {
                string root = result.GetValue(volumePath) ?? throw new ArgumentException("give --volume-path (h5 volumes) or --images and --labels (NIfTI)");
                string h5Dir = Directory.Exists(Path.Combine(root, SynapseLayout.TestDirName)) ? Path.Combine(root, SynapseLayout.TestDirName) : root;
                string lists = result.GetValue(listDir) ?? root;
                volumes = VolumeTestSource.FromList(Path.Combine(lists, SynapseLayout.TestListName), h5Dir);
            }

            var (mode, xyz) = ParseSpacing(result.GetValue(spacing));
            var progress = new ConsoleProgress();
            var started = DateTime.UtcNow;
            void Report(VolumeTestProgress p)
            {
                if (p.Result is null)
                {
                    progress.Update($"[{p.CaseIndex + 1}/{p.CaseCount}] {p.Case}: slices {p.SlicesDone}/{p.SliceCount}");
                    return;
                }
                progress.Done();
                log.Info(string.Create(CultureInfo.InvariantCulture,
                    $"idx {p.CaseIndex} case {p.Case} mean_dice {p.Result.MeanDice:F6} mean_hd95 {p.Result.MeanHd95:F6}"));
            }

            EvaluationReport report;
            // Promptable mode (PromptCommandOptions.Evaluate): prompts derived from the ground truth per slice and class.
            if (result.GetValue(prompt) is string promptKind)
            {
                report = PromptCommandOptions.Evaluate(result, model, promptKind, result.GetValue(pixelNorm)!, volumes, log.Info, Report, new VolumeTestOptions
                {
                    NumClasses = result.GetValue(model.NumClasses) ?? 8,
                    Spacing = mode,
                    SpacingXyz = xyz,
                    SaveNiftiDir = result.GetValue(saveNifti),
                });
            }
            else
            {
                using var loaded = model.Load(result);
                log.Info(loaded.Description);
                log.Info(string.Create(CultureInfo.InvariantCulture,
                    $"img_size {loaded.Config.ImageSize}, input_size {loaded.Config.InputSize}, num_classes {loaded.Config.NumClasses}, multimask_output {loaded.Config.MultimaskOutput}, device {loaded.Device}"));
                log.Info($"{volumes.Count} test iterations per epoch");
                var options = new VolumeTestOptions
                {
                    NumClasses = loaded.Config.NumClasses,
                    BatchSize = result.GetValue(batch),
                    Spacing = mode,
                    SpacingXyz = xyz,
                    SaveNiftiDir = result.GetValue(saveNifti),
                    ClassNames = loaded.Config.ClassNames,
                };
                var tester = new VolumeTester(new SamedSliceSegmenter(loaded), options);
                report = tester.Run(volumes, Report);
            }
            progress.Done();
            foreach (string line in report.SamedLogLines().Skip(report.Cases.Count))
                log.Info(line);
            log.Info("Testing Finished!");

            string table = report.FormatTable();
            Console.WriteLine();
            Console.Write(table);
            WriteAtomically(Path.Combine(outputDir, "report.txt"), table);
            string csv = Path.Combine(outputDir, "metrics.csv");
            EvaluationCsv.Write(csv, report);
            Console.WriteLine($"wrote {csv}, {Path.Combine(outputDir, "report.txt")} and {Path.Combine(outputDir, "log.txt")} "
                + $"({(DateTime.UtcNow - started).TotalSeconds:F1} s, HD95 in {report.DistanceUnit})");
            return 0;
        }));
        return command;
    }

    internal static (VolumeTestSpacing Mode, double[]? Xyz) ParseSpacing(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return (VolumeTestSpacing.Voxels, null);
        if (text.Trim().Equals("header", StringComparison.OrdinalIgnoreCase))
            return (VolumeTestSpacing.Header, null);
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = parts.Select(p => double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : double.NaN).ToArray();
        if (values.Length != 3 || values.Any(v => !double.IsFinite(v) || v <= 0))
            throw new ArgumentException($"--spacing '{text}': expected three positive voxel sizes x,y,z (e.g. 0.8,0.8,3) or 'header'");
        return (VolumeTestSpacing.Explicit, values);
    }

    internal static void WriteAtomically(string path, string text)
    {
        string temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>SAMed's test log: "[HH:mm:ss.fff] message" lines in log.txt, the message on the console.</summary>
    private sealed class TestLog(string path) : IDisposable
    {
        private readonly StreamWriter writer = new(path, append: false);

        public void Info(string message)
        {
            writer.WriteLine($"[{DateTime.Now:HH:mm:ss.fff}] {message}");
            writer.Flush();
            Console.WriteLine(message);
        }

        public void Dispose() => writer.Dispose();
    }
}

/// <summary>A progress line redrawn in place on a terminal; nothing when the output is redirected.</summary>
internal sealed class ConsoleProgress
{
    private readonly bool interactive = !Console.IsOutputRedirected;
    private int width;

    public void Update(string line)
    {
        if (!interactive)
            return;
        Console.Write("\r" + line.PadRight(width));
        width = line.Length;
    }

    public void Done()
    {
        if (interactive && width > 0)
        {
            Console.Write("\r" + new string(' ', width) + "\r");
            width = 0;
        }
    }
}

/// <summary>The model options test, predict and export share, and building the model from them.</summary>
internal sealed class ModelCommandOptions
{
    public Option<string?> Checkpoint { get; } = new("--checkpoint")
    {
        Description = "A merged checkpoint written by export (its .json configuration beside it); replaces --sam-checkpoint and --lora.",
    };
    public Option<string?> SamCheckpoint { get; } = new("--sam-checkpoint") { Description = "Official SAM checkpoint (e.g. sam_vit_b_01ec64.pth); optional for tiny." };
    public Option<string?> Lora { get; } = new("--lora") { Description = "SAMed LoRA checkpoint (this project's or SAMed's, e.g. epoch_159.pth)." };
    public Option<string> Model { get; } = new("--model")
    {
        Description = "SAM size: vit_b, vit_l, vit_h or tiny (random-init smoke model).",
        DefaultValueFactory = _ => "vit_b",
    };
    public Option<string?> Config { get; } = new("--config")
    {
        Description = "Configuration JSON (export's, a training run's, or a SAM architecture) instead of --model.",
    };
    public Option<int?> ImageSize { get; } = new("--img-size") { Description = "Network input size (SAMed: 512; default from the config, else 512)." };
    public Option<int?> InputSize { get; } = new("--input-size") { Description = "SAMed's input_size: slices go to this size first (default 224)." };
    public Option<int?> NumClasses { get; } = new("--num-classes") { Description = "Foreground classes (default: from the LoRA file, else 8)." };
    public Option<int?> Rank { get; } = new("--rank") { Description = "LoRA rank (default: from the LoRA file)." };
    public Option<int?> Seed { get; } = new("--seed")
    {
        Description = "torch seed before building a model without SAM checkpoint (tiny): use the training run's seed (default 1234).",
    };
    public Option<bool> MergeLora { get; } = new("--merge-lora") { Description = "Fold LoRA into the qkv weights before running (same outputs to float tolerance, no LoRA cost per forward)." };
    public Option<string> Device { get; } = new("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
    public Option<int> Threads { get; } = new("--threads") { Description = "CPU threads for libtorch (0: its default)." };

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { Checkpoint, SamCheckpoint, Lora, Model, Config, ImageSize, InputSize, NumClasses, Rank, Seed, MergeLora, Device, Threads })
            command.Options.Add(option);
    }

    public void ApplyThreads(ParseResult result)
    {
        int threads = result.GetValue(Threads);
        if (threads < 0)
            throw new ArgumentException($"--threads {threads} must not be negative");
        if (threads > 0)
            torch.set_num_threads(threads);
    }

    public ModelLoadOptions Options(ParseResult result) => new()
    {
        Checkpoint = result.GetValue(Checkpoint),
        SamCheckpoint = result.GetValue(SamCheckpoint),
        LoraCheckpoint = result.GetValue(Lora),
        ModelType = result.GetValue(Model)!,
        ConfigPath = result.GetValue(Config),
        ImageSize = result.GetValue(ImageSize),
        InputSize = result.GetValue(InputSize),
        NumClasses = result.GetValue(NumClasses),
        Rank = result.GetValue(Rank),
        Seed = result.GetValue(Seed),
        MergeLora = result.GetValue(MergeLora),
        Device = result.GetValue(Device)!,
    };

    public SegmentationModel Load(ParseResult result) => SegmentationModel.Load(Options(result));

    /// <summary>Runs a command's work; bad input (files, formats, options) prints its message and exits with 2.</summary>
    public static int Guard(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
