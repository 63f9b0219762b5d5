using System.CommandLine;
using System.Globalization;
using SAMed.Data;
using SAMed.Evaluation;
using SAMed.Inference;
using SAMed.IO;
using SAMed.Train.Cli;
using SAMed.VolumeTesting;

namespace SAMed.Train.Commands;

/// <summary>SAMed's test.py: segment test volumes slice by slice and report Dice and HD95 per case and class.</summary>
public static class TestCommand
{
    public static Command Create()
    {
        var model = new ModelCommandOptions();
        var volumePath = new Option<string?>("--volume-path")
        {
            Description = "Test volumes: a data root holding test_vol_h5/, or a folder of NAME.npy.h5 files (SAMed's --volume_path; "
                + "default: SAMed's testset/test_vol_h5 when it exists).",
        };
        var listDir = new Option<string?>("--list-dir")
        {
            Description = "Folder with test_vol.txt (default: the first found in the volume folder, the data root, its lists/ or "
                + "lists/lists_Synapse/; none: every volume in the folder).",
        };
        var images = new Option<string?>("--images") { Description = "Instead of h5 volumes: a folder of NIfTI images (CT, windowed as prepare does)..." };
        var labels = new Option<string?>("--labels") { Description = "...and the folder of their NIfTI label maps." };
        var labelMap = CommonOptions.LabelMap("For NIfTI labels: synapse13, totalseg, identity or a JSON file (as prepare).", "identity");
        var batch = CommonOptions.InferenceBatch();
        var spacing = CommonOptions.Spacing();
        var absent = CommonOptions.Absent();
        var output = CommonOptions.Output(
            "Folder for log.txt (SAMed's test log), report.txt (tables) and metrics.csv (every number) (SAMed's --output_dir).",
            defaultValue: "test_output", aliases: "--output-dir");
        var saveNifti = new Option<string?>("--save-nifti", "--is-savenii")
        {
            Description = "Write CASE_pred/_img/_gt.nii.gz into this folder (bare: OUTPUT/predictions, as SAMed's --is_savenii).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var prompt = new Option<string?>("--prompt")
        {
            Description = "Promptable mode: evaluate a promptable SAM (--sam-checkpoint [+ --lora of a promptable run]) with a box or point per slice and class, from the ground truth (MedSAM's evaluation).",
        };
        var pixelNorm = new Option<string?>("--pixel-norm") { Description = "Promptable mode: sam or medsam (see predict; default: the --lora run's, else sam)." };

        var command = new Command("test", "Evaluate a SAMed model on test volumes with SAMed's protocol (Dice and HD95 per case and class).")
        {
            volumePath, listDir, images, labels, labelMap, batch, spacing, absent, output, saveNifti, prompt, pixelNorm,
        };
        model.AddTo(command);
        var samed = new SamedSwitches();
        samed.AddTo(command);
        command.SetAction(result =>
        {
            samed.Check(result);
            model.ApplyThreads(result);
            var (mode, xyz) = CommonOptions.ParseSpacing(result, spacing);
            var volumes = Volumes(result.GetValue(volumePath), result.GetValue(listDir), result.GetValue(images), result.GetValue(labels),
                result.GetValue(labelMap)!, out string source);
            string outputDir = result.GetValue(output)!;
            string? niftiDir = result.GetResult(saveNifti) is null ? null : result.GetValue(saveNifti) ?? Path.Combine(outputDir, "predictions");
            Directory.CreateDirectory(outputDir);
            using var log = new TestLog(Path.Combine(outputDir, "log.txt"));
            log.Info($"test volumes: {source}");

            var progress = new ConsoleProgress();
            var started = DateTime.UtcNow;
            SliceClock? clock = null;
            void Report(VolumeTestProgress p)
            {
                if (p.Result is null)
                {
                    string volume = $"[{p.CaseIndex + 1}/{p.CaseCount}] {p.Case}";
                    if (p.Stage == VolumeTestStage.Reading)
                        clock = new SliceClock();
                    else if (p.Stage == VolumeTestStage.Segmenting)
                        clock?.Observe(p.SlicesDone);
                    progress.Update(p.Stage switch
                    {
                        VolumeTestStage.Reading => $"{volume}: reading",
                        VolumeTestStage.Scoring => $"{volume}: Dice and HD95",
                        VolumeTestStage.WritingNifti => $"{volume}: writing NIfTI",
                        _ => $"{volume}: slices {p.SlicesDone}/{p.SliceCount}{clock?.Describe(p.SliceCount - p.SlicesDone)}",
                    });
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
                report = PromptCommandOptions.Evaluate(result, model, promptKind, result.GetValue(pixelNorm), volumes, log.Info, Report, new VolumeTestOptions
                {
                    NumClasses = result.GetValue(model.NumClasses) ?? 8,
                    Spacing = mode,
                    SpacingXyz = xyz,
                    SaveNiftiDir = niftiDir,
                    Absent = result.GetValue(absent),
                });
            }
            else
            {
                using var loaded = SegmentationModel.Load(WithSamedCheckpoints(model.Options(result), log.Info));
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
                    SaveNiftiDir = niftiDir,
                    Absent = result.GetValue(absent),
                    ClassNames = loaded.Config.ClassNames,
                };
                report = new VolumeTester(new SamedSliceSegmenter(loaded), options).Run(volumes, Report);
            }
            progress.Done();
            foreach (string line in report.SamedLogLines().Skip(report.Cases.Count))
                log.Info(line);
            log.Info("Testing Finished!");

            string table = report.FormatTable();
            Console.WriteLine();
            Console.Write(table);
            AtomicFile.WriteText(Path.Combine(outputDir, "report.txt"), table);
            string csv = Path.Combine(outputDir, "metrics.csv");
            EvaluationCsv.Write(csv, report);
            Console.WriteLine($"wrote {csv}, {Path.Combine(outputDir, "report.txt")} and {Path.Combine(outputDir, "log.txt")} "
                + $"({(DateTime.UtcNow - started).TotalSeconds:F1} s, HD95 in {report.DistanceUnit})");
            return 0;
        });
        return command;
    }

    /// <summary>The test volumes: NIfTI pairs, or h5 volumes with their list (or every volume of the folder).</summary>
    private static IReadOnlyList<VolumeTestItem> Volumes(
        string? volumePath, string? listDir, string? images, string? labels, string labelMap, out string source)
    {
        if (images is not null || labels is not null)
        {
            if (images is null || labels is null)
                throw new ArgumentException("--images and --labels go together");
            if (volumePath is not null)
                throw new ArgumentException("give --volume-path (h5 volumes) or --images and --labels (NIfTI), not both");
            source = $"NIfTI pairs from {images} and {labels}";
            var cases = ImageCases.AreImages(images) ? ImageCases.FromFolders(images, labels) : PrepareCases.FromFolders(images, labels);
            return VolumeTestSource.FromNifti(cases, LabelMap.Get(labelMap));
        }
        if (volumePath is null)
        {
            if (!Directory.Exists(SamedDefaultVolumePath))
                throw new ArgumentException("give --volume-path (a data root or a folder of .npy.h5 volumes) or --images and --labels (NIfTI)");
            volumePath = SamedDefaultVolumePath;
            if (listDir is null && Directory.Exists(SamedDefaultListDir))
                listDir = SamedDefaultListDir;
        }
        return VolumeTestSource.FromVolumePath(volumePath, listDir, out source);
    }

    /// <summary>
    /// test.py's defaults of --ckpt and --lora_ckpt (SAMed's vit_b and its released LoRA), used when no model file is
    /// named, no other size is asked and both files exist.
    /// </summary>
    private static ModelLoadOptions WithSamedCheckpoints(ModelLoadOptions options, Action<string> log)
    {
        bool unnamed = options is { Checkpoint: null, SamCheckpoint: null, LoraCheckpoint: null, ConfigPath: null }
            && (options.ModelType is null || options.ModelType == "vit_b");
        if (!unnamed || !File.Exists(SamedDefaultSamCheckpoint) || !File.Exists(SamedDefaultLoraCheckpoint))
            return options;
        log($"no checkpoint named: SAMed's defaults {SamedDefaultSamCheckpoint} and {SamedDefaultLoraCheckpoint}");
        return options with { SamCheckpoint = SamedDefaultSamCheckpoint, LoraCheckpoint = SamedDefaultLoraCheckpoint };
    }

    private const string SamedDefaultSamCheckpoint = "checkpoints/sam_vit_b_01ec64.pth";
    private const string SamedDefaultLoraCheckpoint = "checkpoints/epoch_159.pth";

    // test.py's defaults of --volume_path and --list_dir, used when no volumes are named and they exist.
    private const string SamedDefaultVolumePath = "testset/test_vol_h5";
    private const string SamedDefaultListDir = "lists/lists_Synapse";

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
