using System.CommandLine;
using System.Globalization;
using SAMed.Inference;

namespace SAMed.Train.Commands;

/// <summary>Segments NIfTI volumes into uint8 NIfTI label maps on the input's grid.</summary>
public static class PredictCommand
{
    public static Command Create()
    {
        var model = new ModelCommandOptions();
        var input = new Option<string>("--input", "-i") { Description = "A NIfTI volume (.nii/.nii.gz) or a folder of them.", Required = true };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Output .nii/.nii.gz file, or a folder (files keep their names).",
            Required = true,
        };
        var batch = new Option<int>("--batch") { Description = "Slices per forward pass.", DefaultValueFactory = _ => 8 };
        var sliceAxis = new Option<int?>("--slice-axis") { Description = "On-disk voxel axis to slice along: 0, 1 or 2 (default: the config's, SAMed's 2)." };
        var windowOption = new Option<string?>("--window")
        {
            Description = "Intensity window min,max mapped to [0, 1] (default: the config's, CT -125,275), or 'none' for inputs already in [0, 1].",
        };
        var overlay = new Option<string?>("--overlay") { Description = "Folder for PNG montages of slices with the predicted organs and a legend." };
        var prompts = new PromptCommandOptions();
        var command = new Command("predict", "Segment NIfTI volumes with a SAMed model (or, with --box/--point/--prompts, a promptable SAM); writes uint8 label maps with the input's geometry.")
        {
            input, output, batch, sliceAxis, windowOption, overlay,
        };
        model.AddTo(command);
        prompts.AddTo(command);
        command.SetAction(result => ModelCommandOptions.Guard(() =>
        {
            model.ApplyThreads(result);
            string from = result.GetValue(input)!, to = result.GetValue(output)!;
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
            var results = predictor.PredictPath(from, to, p =>
                progress.Update($"[{p.VolumeIndex + 1}/{p.VolumeCount}] {Path.GetFileName(p.Input)}: slices {p.SlicesDone}/{p.SliceCount}"));
            progress.Done();
            var names = options.ClassNames ?? Evaluation.ClassNames.For(loaded.Config.NumClasses);
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
        }));
        return command;
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
