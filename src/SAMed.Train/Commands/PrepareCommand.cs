using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using SAMed.Data;
using SAMed.IO;
using SAMed.Train.Cli;

namespace SAMed.Train.Commands;

/// <summary>
/// SAMed's preprocessing: NIfTI image/label pairs, or 2D images and masks, to train_npz/, test_vol_h5/, train.txt and
/// test_vol.txt.
/// </summary>
public static class PrepareCommand
{
    public static Command Create()
    {
        var images = new Option<string?>("--images")
        {
            Description = "Folder of image .nii/.nii.gz files (labels matched by name or number), or of 2D images (PNG, JPEG, BMP, TIFF; "
                + "grey or RGB; masks matched by name: NAME.png or NAME_mask.png ...), or a single image file.",
        };
        var labels = new Option<string?>("--labels", "--masks") { Description = "Folder of label files or 2D masks, or a single one (with --images)." };
        var list = new Option<string?>("--list")
        {
            Description = "Instead of --images/--labels: a file of 'image<TAB>label[<TAB>case name]' lines (paths relative to it).",
        };
        var output = CommonOptions.Output("Data root to write train_npz/, test_vol_h5/, the lists and cases.tsv into.", required: true);
        var listDir = new Option<string?>("--list-dir") { Description = "Where train.txt and test_vol.txt go (default: the output root)." };
        var labelMap = CommonOptions.LabelMap(
            "synapse13 (raw Synapse/BTCV), totalseg (TotalSegmentator), identity, or a JSON file {\"source id\": target id}. "
            + "Default: synapse13 for NIfTI, identity for 2D masks (grey values are the class ids).", null);
        var binaryMasks = new Option<bool>("--binary-masks")
        {
            Description = "2D masks: pixels above half the maximum (128 of 255) are class 1, the rest 0 (ISIC, Kvasir-SEG, BUSI's 0/255 masks).",
        };
        var maskColors = new Option<string?>("--mask-colors")
        {
            Description = "2D colour masks: a JSON file {\"#RRGGBB\": class id, ...} (black is background unless listed).",
        };
        var unlisted = new Option<UnlistedLabels?>("--unlisted-labels")
        {
            Description = "Labels the map does not list: Background (map to 0 and report them), Error, or Keep (unchanged). Default: background, "
                + "but ids unknown to the map beyond a few stray voxels (0.01%) stop with the map they likely belong to.",
        };
        var testCases = new Option<string?>("--test-cases")
        {
            Description = "Comma-separated test cases (case0001 or 1; 2D images by name without extension), or 'synapse' for SAMed's twelve Synapse test cases.",
        };
        var testFraction = new Option<double?>("--test-fraction") { Description = "Instead of --test-cases: this fraction of cases, chosen by --seed." };
        var seed = new Option<int>("--seed") { Description = "Seed of the --test-fraction shuffle.", DefaultValueFactory = _ => 1234 };
        var alsoTrain = new Option<bool>("--test-also-train") { Description = "Also cut the test cases into training slices (SAMed leaves them out)." };
        var clipMin = new Option<float>("--clip-min") { Description = "Lower intensity clip (HU; NIfTI only).", DefaultValueFactory = _ => -125 };
        var clipMax = new Option<float>("--clip-max") { Description = "Upper intensity clip (HU; NIfTI only).", DefaultValueFactory = _ => 275 };
        var trainSize = new Option<int?>("--train-size")
        {
            Description = "Zoom the training slices to this square size (image cubic, label nearest, as SAMed's RandomGenerator); "
                + "224 makes SAMed's paper training set, written to train_npz_224/. Test volumes keep their size. Default: the slices' own size.",
        };
        var compress = new Option<bool>("--compress-h5") { Description = "Write test volumes gzip-compressed (h5py's default is uncompressed)." };

        var command = new Command("prepare", "Preprocess NIfTI image/label pairs (clip, scale, map labels, slice) or 2D images and masks "
            + "(PNG, JPEG, BMP, TIFF; scaled to [0, 1]) into SAMed's Synapse layout.")
        {
            images, labels, list, output, listDir, labelMap, binaryMasks, maskColors, unlisted, testCases, testFraction, seed, alsoTrain, clipMin, clipMax, trainSize, compress,
        };
        command.SetAction(result =>
        {
            var cases = FindCases(result.GetValue(images), result.GetValue(labels), result.GetValue(list));
            bool twoD = cases.Any(c => ImageFile.IsImage(c.ImagePath));
            if (twoD && cases.Any(c => !ImageFile.IsImage(c.ImagePath)))
                throw new ArgumentException("the pairs mix 2D images and NIfTI volumes; prepare them separately");
            if (!twoD && (result.GetValue(binaryMasks) || result.GetValue(maskColors) is not null))
                throw new ArgumentException("--binary-masks and --mask-colors are for 2D masks; these are NIfTI volumes");
            if (result.GetValue(binaryMasks) && result.GetValue(maskColors) is not null)
                throw new ArgumentException("give either --binary-masks or --mask-colors, not both");
            string mapName = result.GetValue(labelMap) ?? (twoD ? "identity" : "synapse13");
            var options = new PrepareOptions
            {
                OutputDir = result.GetValue(output)!,
                ListDir = result.GetValue(listDir),
                LabelMap = LabelMap.Get(mapName, result.GetValue(unlisted) ?? UnlistedLabels.Background),
                UnknownLabelTolerance = result.GetValue(unlisted) is null ? PrepareOptions.DefaultUnknownLabelTolerance : null,
                BinaryMasks = result.GetValue(binaryMasks),
                MaskColors = result.GetValue(maskColors) is { } colours ? MaskColors.FromJson(colours) : null,
                TestCases = result.GetValue(testCases)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                TestFraction = result.GetValue(testFraction),
                Seed = result.GetValue(seed),
                TestCasesAlsoTrain = result.GetValue(alsoTrain),
                ClipMin = result.GetValue(clipMin),
                ClipMax = result.GetValue(clipMax),
                TrainSize = result.GetValue(trainSize),
                CompressH5 = result.GetValue(compress),
            };
            string masks = options.BinaryMasks ? "binary masks" : options.MaskColors is { } map ? $"mask colours '{map.Name}'" : $"label map '{options.LabelMap.Name}'";
            Console.WriteLine($"prepare: {cases.Count} {(twoD ? "images" : "cases")}, {masks}"
                + (twoD ? "" : $", clip [{options.ClipMin}, {options.ClipMax}]")
                + (options.TrainSize is int size ? $", training slices {size} x {size}" : "") + $" -> {options.OutputDir}");
            var clock = Stopwatch.StartNew();
            var files = cases.ToDictionary(c => c.Name, StringComparer.Ordinal);
            var summary = Prepare.Run(cases, options, progress => Console.WriteLine(
                $"[{progress.Index}/{progress.Count}] {progress.Case.Name} <- {Path.GetFileName(files[progress.Case.Name].ImagePath)}  "
                + $"{progress.Case.Depth} x {progress.Case.Height} x {progress.Case.Width}  {Role(progress.Case)}  ({clock.Elapsed.TotalSeconds:F1} s)"));
            string mapping = WriteCaseTable(summary, files, options.OutputDir);
            PrintSummary(summary, options, twoD);
            Console.WriteLine($"case names and their files: {mapping}");
            return 0;
        });
        return command;
    }

    private static IReadOnlyList<PrepareCase> FindCases(string? images, string? labels, string? list)
    {
        if (list is not null)
        {
            if (images is not null || labels is not null)
                throw new ArgumentException("give either --list or --images with --labels, not both");
            return PrepareCases.FromListFile(list);
        }
        if (images is null || labels is null)
            throw new ArgumentException("give --images and --labels (or --masks; folders or single files), or --list");
        if (ImageCases.AreImages(images))
            return File.Exists(images) ? ImageCases.FromFiles(images, labels) : ImageCases.FromFolders(images, labels);
        return File.Exists(images) ? PrepareCases.FromFiles(images, labels) : PrepareCases.FromFolders(images, labels);
    }

    /// <summary>Writes OUTPUT/cases.tsv: case, role, image file, label file (which file became which case).</summary>
    private static string WriteCaseTable(PrepareSummary summary, IReadOnlyDictionary<string, PrepareCase> files, string outputDir)
    {
        string path = Path.Combine(outputDir, CaseTableName);
        AtomicFile.WriteText(path, writer =>
        {
            writer.WriteLine("case\trole\timage\tlabel");
            foreach (var c in summary.Cases)
                writer.WriteLine($"{c.Name}\t{Role(c)}\t{Path.GetFullPath(files[c.Name].ImagePath)}\t{Path.GetFullPath(files[c.Name].LabelPath)}");
        });
        return path;
    }

    /// <summary>The file beside the data that says which image and label file each case came from.</summary>
    public const string CaseTableName = "cases.tsv";

    private static string Role(PreparedCaseSummary c) => (c.Train, c.Test) switch
    {
        (true, true) => "train+test",
        (true, false) => "train",
        _ => "test",
    };

    private static void PrintSummary(PrepareSummary summary, PrepareOptions options, bool twoD)
    {
        Console.WriteLine($"cases: {summary.Cases.Count} ({summary.TrainCases} train, {summary.TestCases} test); training slices: {summary.TrainSlices}");
        if (summary.TestCases > 0)
            Console.WriteLine($"test cases: {string.Join(", ", summary.Cases.Where(c => c.Test).Select(c => c.Name))}");
        long total = summary.LabelVoxels.Values.Sum();
        Console.WriteLine(twoD ? "label pixels (all prepared images):" : "label voxels (all prepared cases):");
        foreach (var (label, count) in summary.LabelVoxels)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {label,3} {(twoD && label > 0 ? $"class {label}" : LabelMap.ClassName(label)),-14} {count,12}  {100.0 * count / total,6:F2}%"));
        if (summary.UnlistedSourceVoxels.Count > 0)
        {
            var shown = summary.UnlistedSourceVoxels.Take(20).Select(p => $"{p.Key} ({p.Value} voxels)");
            string more = summary.UnlistedSourceVoxels.Count > 20 ? $" and {summary.UnlistedSourceVoxels.Count - 20} more" : "";
            Console.WriteLine($"labels not in map '{options.LabelMap.Name}', set to background: {string.Join(", ", shown)}{more}");
        }
        if (twoD && !options.BinaryMasks && options.MaskColors is null && summary.LabelVoxels.Keys.Any(label => label >= 128))
            Console.Error.WriteLine($"warning: the masks hold labels up to {summary.LabelVoxels.Keys.Max()}; for 0/255 masks use --binary-masks, "
                + "for colour masks --mask-colors (num_classes must cover the largest label)");
        foreach (string warning in summary.Warnings)
            Console.Error.WriteLine($"warning: {warning}");
    }
}
