using System.CommandLine;
using System.Globalization;
using SAMed.Evaluation;
using TorchSharp;

namespace SAMed.Train.Cli;

/// <summary>Options several commands share, declared once so that a concept has one name and one meaning everywhere.</summary>
internal static class CommonOptions
{
    /// <summary>-o/--output: what a command writes (a file or a folder, as the description says).</summary>
    public static Option<string> Output(string description, bool required = false, string? defaultValue = null, params string[] aliases)
    {
        var option = new Option<string>("--output", ["-o", .. aliases]) { Description = description, Required = required };
        if (defaultValue is not null)
            option.DefaultValueFactory = _ => defaultValue;
        return option;
    }

    /// <summary>--threads: libtorch's CPU threads (0: its default); <see cref="ApplyThreads"/> checks and sets it.</summary>
    public static Option<int> Threads() => new("--threads") { Description = "CPU threads for libtorch (0: its default)." };

    /// <summary>Sets libtorch's threads from --threads; a negative count is an error, 0 leaves libtorch's default.</summary>
    public static void ApplyThreads(ParseResult result, Option<int> option)
    {
        int threads = result.GetValue(option);
        if (threads < 0)
            throw new ArgumentException($"--threads {threads} must not be negative");
        if (threads > 0)
            torch.set_num_threads(threads);
    }

    /// <summary>--batch-size (also --batch): slices per forward pass of test and predict.</summary>
    public static Option<int> InferenceBatch() =>
        new("--batch-size", "--batch") { Description = "Slices per forward pass.", DefaultValueFactory = _ => 8 };

    /// <summary>--spacing [x,y,z|header]: the voxel size HD95 is measured with (test and score alike).</summary>
    public static Option<string?> Spacing() => new("--spacing")
    {
        Description = "HD95 in mm: 'header' (the NIfTI header's voxel size; also a bare --spacing) or x,y,z (e.g. 0.8,0.8,3; "
            + "for .npy/.h5 volumes, which carry none). Default: unit voxels, as SAMed.",
        Arity = ArgumentArity.ZeroOrOne,
        HelpName = "x,y,z|header",
    };

    /// <summary>Reads --spacing: absent -> voxels; bare or 'header' -> the header's; x,y,z -> explicit.</summary>
    public static (VolumeTestSpacing Mode, double[]? Xyz) ParseSpacing(ParseResult result, Option<string?> option)
    {
        if (result.GetResult(option) is null)
            return (VolumeTestSpacing.Voxels, null);
        string? text = result.GetValue(option);
        if (string.IsNullOrWhiteSpace(text) || text.Trim().Equals("header", StringComparison.OrdinalIgnoreCase))
            return (VolumeTestSpacing.Header, null);
        var values = text.Split(',', StringSplitOptions.TrimEntries)
            .Select(p => double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : double.NaN).ToArray();
        if (values.Length != 3 || values.Any(v => !double.IsFinite(v) || v <= 0))
            throw new ArgumentException($"--spacing '{text}': expected three positive voxel sizes x,y,z (e.g. 0.8,0.8,3) or 'header'");
        return (VolumeTestSpacing.Explicit, values);
    }

    /// <summary>--absent samed|nan: how a class absent from the reference or the prediction is scored.</summary>
    public static Option<AbsentClassRule> Absent() => new("--absent")
    {
        Description = "Scoring of a class missing from the reference or the prediction: samed (SAMed's rule: absent from the "
            + "reference but predicted: Dice 1, HD95 0; not predicted: Dice 0, HD95 0) or nan (MONAI's: absent from the reference: "
            + "NaN, missed: Dice 0 and HD95 NaN; means skip NaN).",
        DefaultValueFactory = _ => AbsentClassRule.Samed,
    };

    /// <summary>--class-names: names of classes 1..N, comma-separated or as separate words.</summary>
    public static Option<string[]> ClassNames(string description) => new("--class-names")
    {
        Description = description,
        AllowMultipleArgumentsPerToken = true,
    };

    /// <summary>The names given to --class-names (commas split), or null when none.</summary>
    public static string[]? ParseClassNames(ParseResult result, Option<string[]> option)
    {
        var names = (result.GetValue(option) ?? []).SelectMany(n => n.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToArray();
        return names.Length > 0 ? names : null;
    }

    /// <summary>--label-map: how label values become classes (prepare, test with NIfTI, score).</summary>
    /// <summary>--label-map; a null default leaves the choice to the command (e.g. by the kind of input).</summary>
    public static Option<string?> LabelMap(string description, string? defaultValue) => new("--label-map")
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
    };
}
