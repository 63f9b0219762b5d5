using System.CommandLine;
using SAMed.Evaluation;

namespace SAMed.Train.Commands;

/// <summary>Scores predicted label maps against references with SAMed's Dice / HD95 and writes the table and CSV.</summary>
public static class ScoreCommand
{
    public static Command Create()
    {
        var prediction = new Argument<string>("prediction")
        {
            Description = "Predicted label map (.nii, .nii.gz, .npy, .h5, or a grey .png/.tif/.bmp label image) or a folder of them.",
        };
        var reference = new Argument<string>("reference")
        {
            Description = "Reference label map or folder; folders are matched by file name without extension.",
        };
        var numClasses = new Option<int>("--num-classes")
        {
            Description = "Foreground classes 1..N to score (SAMed's default 8); labels must lie in 0..N.",
            DefaultValueFactory = _ => 8,
        };
        var spacing = new Option<bool>("--spacing")
        {
            Description = "Use the voxel size from the file header, so HD95 is in mm (default: voxels, as SAMed's test).",
        };
        var csv = new Option<string>("--csv")
        {
            Description = "Where to write every number as CSV.",
            DefaultValueFactory = _ => "scores.csv",
        };
        var classNames = new Option<string[]>("--class-names")
        {
            Description = "Names of classes 1..N (default: SAMed's Synapse organs for 8 classes, else \"class i\").",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("score", "Compare predicted and reference label maps: per-case, per-class Dice and HD95 as SAMed's test.py.")
        {
            prediction, reference, numClasses, spacing, csv, classNames,
        };
        command.SetAction(result =>
        {
            try
            {
                return Run(result.GetValue(prediction)!, result.GetValue(reference)!, result.GetValue(numClasses),
                    result.GetValue(spacing), result.GetValue(csv)!, result.GetValue(classNames));
            }
            catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"score: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static int Run(string prediction, string reference, int numClasses, bool useSpacing, string csv, string[]? classNames)
    {
        var pairs = ScorePair.Match(prediction, reference);
        var report = LabelMapScorer.Score(
            pairs, numClasses, useSpacing, classNames is { Length: > 0 } ? classNames : null,
            (index, evaluation) => Console.WriteLine(evaluation.SamedLogLine(index)));
        Console.WriteLine();
        Console.Write(report.FormatTable());
        Console.WriteLine();
        foreach (string line in report.SamedLogLines().Skip(report.Cases.Count))
            Console.WriteLine(line);
        EvaluationCsv.Write(csv, report);
        Console.WriteLine($"CSV: {Path.GetFullPath(csv)}");
        return 0;
    }
}
