using System.CommandLine;
using System.Diagnostics;
using SAMed.Data;

namespace SAMed.Train.Commands;

/// <summary>Writes a small synthetic CT-like data set in SAMed's layout and validates it.</summary>
public static class SynthCommand
{
    public static Command Create()
    {
        var defaults = new SyntheticOptions();
        var output = new Option<string>("--output", "-o")
        {
            Description = "Data root to write train_npz/, test_vol_h5/ and the list files into.",
            Required = true,
        };
        var listDir = new Option<string?>("--list-dir") { Description = "Where to write train.txt and test_vol.txt (default: the data root)." };
        var numClasses = Option("--num-classes", "Foreground classes (organs), each present in every case.", defaults.NumClasses);
        var trainCases = Option("--train-count", "Number of cases written as training slices.", defaults.TrainCases, "--train-cases");
        var testCases = Option("--test-count", "Number of cases written as test volumes.", defaults.TestCases, "--test-cases");
        var size = Option("--size", "In-plane size (height and width) in pixels.", defaults.Height);
        var minSlices = Option("--min-slices", "Fewest slices of a case.", defaults.MinSlices);
        var maxSlices = Option("--max-slices", "Most slices of a case.", defaults.MaxSlices);
        var seed = Option("--seed", "Seed; the same options and seed give the same files.", defaults.Seed);
        var compress = new Option<bool>("--compress") { Description = "Write test volumes chunked and gzip-compressed." };
        var nifti = new Option<string?>("--nifti")
        {
            Description = "Also write every case as raw CT NIfTI pairs (img/imgNNNN.nii.gz, label/labelNNNN.nii.gz) into this folder.",
        };
        var images = new Option<int?>("--images")
        {
            Description = "Instead: write this many 2D PNG pictures and masks (OUTPUT/images/, OUTPUT/masks/, one ellipse per class) "
                + "to try 'prepare --images' on; --size, --num-classes (at most 5, default 2), --seed apply, --grey for grey pictures.",
        };
        var grey = new Option<bool>("--grey") { Description = "With --images: grey pictures instead of RGB." };
        var command = new Command("synth", "Write small synthetic CT-like volumes with organ-like shapes in SAMed's data layout (or 2D images and masks).")
        {
            output, listDir, numClasses, trainCases, testCases, size, minSlices, maxSlices, seed, compress, nifti, images, grey,
        };
        command.SetAction(result =>
        {
            string root = result.GetValue(output)!;
            if (result.GetValue(images) is int count)
            {
                int classes = result.GetResult(numClasses) is { Implicit: false } ? result.GetValue(numClasses) : 2;
                var names = SyntheticImages.Write(root, count, result.GetValue(size), classes, !result.GetValue(grey), result.GetValue(seed));
                Console.WriteLine($"wrote {names.Count} images to {Path.Combine(root, "images")} and their masks to {Path.Combine(root, "masks")}");
                return 0;
            }
            var layout = new SynapseLayout(root, result.GetValue(listDir) ?? root);
            var options = new SyntheticOptions
            {
                NumClasses = result.GetValue(numClasses),
                TrainCases = result.GetValue(trainCases),
                TestCases = result.GetValue(testCases),
                Height = result.GetValue(size),
                Width = result.GetValue(size),
                MinSlices = result.GetValue(minSlices),
                MaxSlices = result.GetValue(maxSlices),
                Seed = result.GetValue(seed),
            };
            var watch = Stopwatch.StartNew();
            var dataset = SyntheticDataset.Write(layout, options, result.GetValue(compress), result.GetValue(nifti));
            Console.WriteLine($"wrote {dataset.TrainSlices.Count} training slices and {dataset.TestVolumes.Count} test volumes " +
                $"({options.NumClasses} classes, {options.Height}x{options.Width}) to {layout.Root} in {watch.ElapsedMilliseconds} ms");
            if (dataset.NiftiCases.Count > 0)
                Console.WriteLine($"wrote {dataset.NiftiCases.Count} NIfTI pairs to {result.GetValue(nifti)} (prepare them with --label-map identity)");
            var parts = (dataset.TrainSlices.Count > 0 ? ValidationParts.Train : 0) | (dataset.TestVolumes.Count > 0 ? ValidationParts.Test : 0);
            var report = DatasetValidator.Validate(layout, options.NumClasses, parts);
            foreach (var problem in report.Problems.Concat(report.Warnings))
                Console.Error.WriteLine(problem);
            Console.WriteLine(report.Summary);
            return report.IsValid ? 0 : 1;
        });
        return command;
    }

    private static Option<int> Option(string name, string description, int defaultValue, params string[] aliases) =>
        new(name, aliases) { Description = description, DefaultValueFactory = _ => defaultValue };
}
