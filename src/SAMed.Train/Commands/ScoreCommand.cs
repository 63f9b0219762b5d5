using System.CommandLine;
using SAMed.Data;
using SAMed.Evaluation;
using SAMed.IO;
using SAMed.Train.Cli;

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
        var spacing = CommonOptions.Spacing();
        var absent = CommonOptions.Absent();
        var labelMap = CommonOptions.LabelMap(
            "Maps the reference's label values to classes first: synapse13 (raw Synapse/BTCV), totalseg, identity or a JSON file (as prepare).",
            "identity");
        var output = CommonOptions.Output("Folder for scores.csv (every number) and report.txt (the tables).", defaultValue: ".");
        var csv = new Option<string?>("--csv") { Description = "Write the CSV to this file instead of OUTPUT/scores.csv." };
        var classNames = CommonOptions.ClassNames("Names of classes 1..N (default: SAMed's Synapse organs for 8 classes, else \"class i\").");
        var command = new Command("score", "Compare predicted and reference label maps: per-case, per-class Dice and HD95 as SAMed's test.py.")
        {
            prediction, reference, numClasses, spacing, absent, labelMap, output, csv, classNames,
        };
        command.SetAction(result =>
        {
            var (mode, xyz) = CommonOptions.ParseSpacing(result, spacing);
            string map = result.GetValue(labelMap)!;
            var options = new ScoreOptions
            {
                NumClasses = result.GetValue(numClasses),
                Spacing = mode,
                SpacingXyz = xyz,
                ClassNames = CommonOptions.ParseClassNames(result, classNames),
                Absent = result.GetValue(absent),
                ReferenceLabelMap = map.Equals("identity", StringComparison.OrdinalIgnoreCase) ? null : LabelMap.Get(map),
            };
            string folder = result.GetValue(output)!;
            return Run(result.GetValue(prediction)!, result.GetValue(reference)!, options,
                result.GetValue(csv) ?? Path.Combine(folder, "scores.csv"), Path.Combine(folder, "report.txt"));
        });
        return command;
    }

    private static int Run(string prediction, string reference, ScoreOptions options, string csv, string reportPath)
    {
        var pairs = ScorePair.Match(prediction, reference);
        var report = LabelMapScorer.Score(pairs, options, (index, evaluation) => Console.WriteLine(evaluation.SamedLogLine(index)));
        string table = report.FormatTable();
        Console.WriteLine();
        Console.Write(table);
        Console.WriteLine();
        foreach (string line in report.SamedLogLines().Skip(report.Cases.Count))
            Console.WriteLine(line);
        EvaluationCsv.Write(csv, report);
        AtomicFile.WriteText(reportPath, table);
        Console.WriteLine($"wrote {Path.GetFullPath(csv)} and {Path.GetFullPath(reportPath)} (HD95 in {report.DistanceUnit})");
        return 0;
    }
}
