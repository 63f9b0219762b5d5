using System.CommandLine;
using System.Globalization;
using SAMed.Data;
using SAMed.Inference;
using SAMed.Train.Cli;

namespace SAMed.Train.Commands;

/// <summary>Segments NIfTI volumes into uint8 NIfTI label maps on the input's grid, or 2D images into PNG label maps.</summary>
public static class PredictCommand
{
    public static Command Create()
    {
        var model = new ModelCommandOptions();
        var input = new Option<string>("--input", "-i") { Description = "A NIfTI volume (.nii/.nii.gz) or a folder of them; or a 2D image (PNG, JPEG, BMP, TIFF) or a folder of them.", Required = true };
        var output = CommonOptions.Output("Output .nii/.nii.gz file, or a folder (files keep their names; 2D images become NAME.png label maps, pixel value = class).", required: true);
        var batch = CommonOptions.InferenceBatch();
        var sliceAxis = new Option<int?>("--slice-axis") { Description = "On-disk voxel axis to slice along: 0, 1 or 2 (default: the config's, SAMed's 2)." };
        var windowOption = new Option<string?>("--window")
        {
            Description = "Intensity window min,max mapped to [0, 1] (default: the config's, CT -125,275), or 'none' for inputs already in [0, 1].",
        };
        var overlay = new Option<string?>("--overlay")
        {
            Description = "Folder for PNG montages of slices with the predicted organs and a legend (2D images: each image with its classes painted; prompts: the boxes outlined).",
        };
        var prompts = new PromptCommandOptions();
        var command = new Command("predict", "Segment NIfTI volumes (uint8 label maps with the input's geometry) or 2D images (PNG label maps) with a SAMed model; with --box/--point/--prompts, the prompted objects with a promptable SAM.")
        {
            input, output, batch, sliceAxis, windowOption, overlay,
        };
        model.AddTo(command);
        prompts.AddTo(command);
        command.SetAction(result =>
        {
            model.ApplyThreads(result);
            string from = result.GetValue(input)!, to = result.GetValue(output)!;
            if (Data.ImageCases.AreImages(from))
                return PredictImages(model, result, from, to, result.GetValue(batch), result.GetValue(overlay));
            var jobs = VolumePredictor.Jobs(from, to); // checks the paths and options before the model is loaded
            var window = ParseWindow(result.GetValue(windowOption));
            // Promptable mode (PromptCommandOptions): prompts given, a promptable SAM segments the prompted objects.
            if (prompts.Given(result))
                return prompts.Run(result, model, jobs, window, result.GetValue(sliceAxis), result.GetValue(overlay));
            using var loaded = model.Load(result);
            Console.WriteLine(loaded.Description);
            var options = PredictOptions.From(loaded.Config) with
            {
                BatchSize = result.GetValue(batch),
                OverlayDir = result.GetValue(overlay),
            };
            if (result.GetValue(sliceAxis) is int axis)
                options = options with { SliceAxis = axis };
            if (window is var (apply, min, max))
                options = options with { ApplyWindow = apply, WindowMin = apply ? min : options.WindowMin, WindowMax = apply ? max : options.WindowMax };

            var predictor = new VolumePredictor(new SamedSliceSegmenter(loaded), options);
            var progress = new ConsoleProgress();
            var clock = new SliceClock();
            using var interrupt = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                interrupt.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            IReadOnlyList<PredictResult> results;
            try
            {
                results = predictor.PredictPath(from, to, p => progress.Update(ProgressLine(p, clock)), interrupt.Token);
            }
            catch (OperationCanceledException)
            {
                progress.Done();
                Console.Error.WriteLine("interrupted: label maps finished before the interruption are written; no partial output was left");
                return 130;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
            progress.Done();
            var names = options.ClassNames ?? ClassNames.For(loaded.Config.NumClasses);
            foreach (var r in results)
            {
                var present = Enumerable.Range(1, r.ClassVoxels.Length - 1).Where(c => r.ClassVoxels[c] > 0)
                    .Select(c => $"{names[c - 1]} {r.ClassVoxels[c]}");
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{r.Input} -> {r.Output} [{string.Join("x", r.Shape)}] {r.Elapsed.TotalSeconds:F1} s; voxels: {string.Join(", ", present.DefaultIfEmpty("none"))}"));
                if (r.Overlay is not null)
                    Console.WriteLine($"  overlay {r.Overlay}");
            }
            return jobs.Count == results.Count ? 0 : 1;
        });
        return command;
    }

    private static int PredictImages(ModelCommandOptions model, ParseResult result, string from, string to, int batch, string? overlay)
    {
        var jobs = ImagePredictor.Jobs(from, to); // checks the paths before the model is loaded
        using var loaded = model.Load(result);
        Console.WriteLine(loaded.Description);
        var progress = new ConsoleProgress();
        var results = new ImagePredictor(new SamedSliceSegmenter(loaded), batch)
            .Predict(jobs, overlay, (done, total) => progress.Update($"images {done}/{total}"));
        progress.Done();
        var names = PredictOptions.From(loaded.Config).ClassNames ?? ClassNames.For(loaded.Config.NumClasses);
        foreach (var r in results)
        {
            var present = Enumerable.Range(1, r.ClassPixels.Length - 1).Where(c => r.ClassPixels[c] > 0).Select(c => $"{names[c - 1]} {r.ClassPixels[c]}");
            Console.WriteLine($"{r.Input} -> {r.Output} [{r.Height}x{r.Width}]; pixels: {string.Join(", ", present.DefaultIfEmpty("none"))}");
        }
        return 0;
    }

    /// <summary>"[2/5] ct.nii.gz: slices 40/300 (run 340/1500), 1.21 s/slice, ETA 23:20" and the like.</summary>
    private static string ProgressLine(PredictProgress p, SliceClock clock)
    {
        string volume = $"[{p.VolumeIndex + 1}/{p.VolumeCount}] {Path.GetFileName(p.Input)}";
        switch (p.Stage)
        {
            case PredictStage.Reading:
                return $"{volume}: reading";
            case PredictStage.Writing:
                return $"{volume}: writing the label map";
        }
        clock.Observe(p.SlicesDoneInRun);
        string run = p.VolumeCount > 1 ? $" (run {p.SlicesDoneInRun}/{p.SliceCountInRun})" : "";
        return $"{volume}: slices {p.SlicesDone}/{p.SliceCount}{run}{clock.Describe(p.SliceCountInRun - p.SlicesDoneInRun)}";
    }

    /// <summary>(apply, min, max) from "min,max" or "none"; null when not given.</summary>
    internal static (bool Apply, double Min, double Max)? ParseWindow(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return null;
        if (text.Trim().Equals("none", StringComparison.OrdinalIgnoreCase))
            return (false, 0, 0);
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double min)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double max)
            && max > min)
            return (true, min, max);
        throw new ArgumentException($"--window '{text}': expected min,max with min < max (e.g. -125,275) or 'none'");
    }
}
