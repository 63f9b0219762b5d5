using System.CommandLine;
using System.Globalization;
using SAMed.Evaluation;
using SAMed.Inference;
using SAMed.Train.Cli;
using SAMed.VolumeTesting;

namespace SAMed.Train.Commands;

/// <summary>predict's promptable mode: prompt options in voxel coordinates and the run on a promptable SAM.</summary>
internal sealed class PromptCommandOptions
{
    public Option<string?> Box { get; } = new("--box")
    {
        Description = "Promptable mode: a box x0,y0,x1,y1 (inclusive voxel indices along the slice's columns and rows; slice axis 2: x and y), with --slices.",
    };
    public Option<string?> Slices { get; } = new("--slices") { Description = "The slice range z0,z1 (inclusive) the --box spans." };
    public Option<string[]> Points { get; } = new("--point")
    {
        Description = "Promptable mode: a positive click x,y,z (voxel indices of the input file); repeatable.",
        AllowMultipleArgumentsPerToken = false,
    };
    public Option<string[]> NegativePoints { get; } = new("--negative-point") { Description = "A negative click x,y,z (background); repeatable." };
    public Option<int> Label { get; } = new("--label") { Description = "Label value written for the --box/--point object (1..255).", DefaultValueFactory = _ => 1 };
    public Option<string?> Prompts { get; } = new("--prompts")
    {
        Description = "Promptable mode: a JSON file of objects: {\"objects\": [{\"label\": 1, \"box\": [x0,y0,x1,y1], \"slices\": [z0,z1]}, {\"label\": 2, \"points\": [[x,y,z]], \"negative_points\": [[x,y,z]]}]}.",
    };
    public Option<string?> PixelNorm { get; } = new("--pixel-norm")
    {
        Description = "Promptable mode: sam (0-255 with SAM's pixel mean/std; official SAM) or medsam (inputs in [0, 1], MedSAM's checkpoint). "
            + "Default: what the --lora run's description says, else sam. tiny models always take [0, 1].",
    };

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { Box, Slices, Points, NegativePoints, Label, Prompts, PixelNorm })
            command.Options.Add(option);
    }

    public bool Given(ParseResult result) =>
        result.GetValue(Box) is not null || result.GetValue(Prompts) is not null
        || (result.GetValue(Points)?.Length ?? 0) > 0 || (result.GetValue(NegativePoints)?.Length ?? 0) > 0;

    /// <summary>The objects from --prompts, or the one object of --box/--point/--negative-point with --label.</summary>
    public IReadOnlyList<PromptedObject> Objects(ParseResult result)
    {
        string? file = result.GetValue(Prompts);
        bool inline = result.GetValue(Box) is not null || (result.GetValue(Points)?.Length ?? 0) > 0 || (result.GetValue(NegativePoints)?.Length ?? 0) > 0;
        if (file is not null)
        {
            if (inline)
                throw new ArgumentException("give either --prompts FILE or --box/--point, not both");
            return VolumePrompts.Load(file);
        }
        var box = result.GetValue(Box) is string b ? VolumePrompts.ParseBox(b, result.GetValue(Slices)) : null;
        var points = (result.GetValue(Points) ?? []).Select(p => VolumePrompts.ParsePoint(p, positive: true))
            .Concat((result.GetValue(NegativePoints) ?? []).Select(p => VolumePrompts.ParsePoint(p, positive: false))).ToList();
        return [new PromptedObject(result.GetValue(Label), box, points)];
    }

    public int Run(ParseResult result, ModelCommandOptions model, IReadOnlyList<(string Input, string Output)> jobs,
        (bool Apply, double Min, double Max)? window, int? sliceAxis, string? overlay)
    {
        var objects = Objects(result);
        using var loaded = PromptableModel.Load(model.Options(result), ParsePixelNorm(result.GetValue(PixelNorm)));
        Console.WriteLine(loaded.Description);
        var options = new PredictOptions { OverlayDir = overlay };
        if (sliceAxis is int axis)
            options = options with { SliceAxis = axis };
        if (window is var (apply, min, max))
            options = options with { ApplyWindow = apply, WindowMin = apply ? min : options.WindowMin, WindowMax = apply ? max : options.WindowMax };
        var predictor = new PromptVolumePredictor(loaded, options);
        foreach (var (from, to) in jobs)
        {
            var r = predictor.PredictFile(from, to, objects, (done, total) => Console.WriteLine($"{Path.GetFileName(from)}: object {done}/{total}"));
            var present = Enumerable.Range(1, r.ClassVoxels.Length - 1).Where(c => r.ClassVoxels[c] > 0).Select(c => $"label {c}: {r.ClassVoxels[c]}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Input} -> {r.Output} [{string.Join("x", r.Shape)}] {r.Elapsed.TotalSeconds:F1} s; voxels: {string.Join(", ", present.DefaultIfEmpty("none"))}"));
            if (r.Overlay is not null)
                Console.WriteLine($"  overlay {r.Overlay}");
        }
        return 0;
    }

    public static PixelNorm? ParsePixelNorm(string? text) => text switch
    {
        null => null,
        "sam" => Inference.PixelNorm.Sam,
        "medsam" => Inference.PixelNorm.MedSam,
        _ => throw new ArgumentException($"--pixel-norm '{text}': expected sam or medsam"),
    };

    /// <summary>test --prompt box|point: a promptable SAM evaluated with prompts from the ground truth.</summary>
    public static EvaluationReport Evaluate(ParseResult result, ModelCommandOptions model, string promptKind, string? pixelNorm,
        IReadOnlyList<VolumeTestItem> volumes, Action<string> log, Action<VolumeTestProgress> progress, VolumeTestOptions options)
    {
        var prompt = promptKind switch
        {
            "box" => EvaluationPrompt.Box,
            "point" => EvaluationPrompt.Point,
            _ => throw new ArgumentException($"--prompt '{promptKind}': expected box or point"),
        };
        using var loaded = PromptableModel.Load(model.Options(result), ParsePixelNorm(pixelNorm));
        log(loaded.Description);
        log(string.Create(CultureInfo.InvariantCulture,
            $"promptable, {promptKind} prompts from the ground truth, img_size {loaded.Model.ImageSize}, num_classes {options.NumClasses}, device {loaded.Device}"));
        return new PromptedVolumeTester(loaded, options, prompt).Run(volumes, progress);
    }
}
