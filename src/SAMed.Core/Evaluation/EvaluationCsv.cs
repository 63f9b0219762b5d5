using System.Globalization;
using CsvHelper;

namespace SAMed.Evaluation;

/// <summary>
/// Writes every number of an <see cref="EvaluationReport"/> as CSV, one row each: scope "case_class" (one case,
/// one class), "case_mean", "class_mean" and "overall"; doubles in round-trip form.
/// </summary>
public static class EvaluationCsv
{
    public static readonly string[] Header = ["scope", "case", "class", "name", "dice", "hd95", "hd95_unit"];

    /// <summary>Writes through <see cref="IO.AtomicFile"/> (a temporary file renamed over the target).</summary>
    public static void Write(string path, EvaluationReport report) =>
        IO.AtomicFile.WriteText(path, writer =>
        {
            using var csv = CsvWriter.Create(writer, CsvWriterOptions.Default, leaveOpen: true);
            Write(csv, report);
        });

    private static void Write(CsvWriter csv, EvaluationReport report)
    {
        csv.WriteHeader(Header);
        foreach (var c in report.Cases)
        {
            for (int i = 0; i < c.Classes.Count; i++)
                Row(csv, report, "case_class", c.Case, i + 1, c.Classes[i].Dice, c.Classes[i].Hd95);
            Row(csv, report, "case_mean", c.Case, null, c.MeanDice, c.MeanHd95);
        }

        for (int i = 0; i < report.ClassMeans.Count; i++)
            Row(csv, report, "class_mean", "", i + 1, report.ClassMeans[i].Dice, report.ClassMeans[i].Hd95);
        Row(csv, report, "overall", "", null, report.MeanDice, report.MeanHd95);
    }

    private static void Row(CsvWriter csv, EvaluationReport report, string scope, string caseName, int? classIndex, double dice, double hd95)
    {
        csv.WriteField(scope);
        csv.WriteField(caseName);
        csv.WriteField(classIndex?.ToString(CultureInfo.InvariantCulture) ?? "");
        csv.WriteField(classIndex is int c ? report.ClassNames[c - 1] : "");
        csv.WriteField(dice, "R");
        csv.WriteField(hd95, "R");
        csv.WriteField(report.DistanceUnit);
        csv.EndRecord();
    }
}
