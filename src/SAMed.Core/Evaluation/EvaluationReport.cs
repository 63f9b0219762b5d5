using System.Globalization;
using System.Text;

namespace SAMed.Evaluation;

/// <summary>
/// Per-case, per-class Dice and HD95 and their means as SAMed's test.py aggregates them: per class the mean over
/// cases, then the mean over classes.
/// </summary>
public sealed class EvaluationReport
{
    public EvaluationReport(IReadOnlyList<CaseEvaluation> cases, IReadOnlyList<string> classNames, string distanceUnit = "voxels")
    {
        if (cases.Count == 0)
            throw new ArgumentException("a report needs at least one case", nameof(cases));
        if (classNames.Count == 0)
            throw new ArgumentException("a report needs at least one class", nameof(classNames));
        foreach (var c in cases.Where(c => c.Classes.Count != classNames.Count))
            throw new ArgumentException($"case {c.Case} has {c.Classes.Count} classes, the report has {classNames.Count}", nameof(cases));
        Cases = cases;
        ClassNames = classNames;
        DistanceUnit = distanceUnit;
        ClassMeans = Enumerable.Range(0, classNames.Count)
            .Select(i => new ClassMetric(Mean.Of(cases.Select(c => c.Classes[i].Dice)), Mean.Of(cases.Select(c => c.Classes[i].Hd95))))
            .ToArray();
    }

    public IReadOnlyList<CaseEvaluation> Cases { get; }

    /// <summary>Names of classes 1..N.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Unit of HD95: "voxels" (SAMed's unit spacing) or "mm" when voxel spacing was used.</summary>
    public string DistanceUnit { get; }

    /// <summary>Per class (index 0 is class 1), the mean over cases.</summary>
    public IReadOnlyList<ClassMetric> ClassMeans { get; }

    /// <summary>Mean over classes of the class means (test.py's "performance").</summary>
    public double MeanDice => Mean.Of(ClassMeans.Select(c => c.Dice));

    public double MeanHd95 => Mean.Of(ClassMeans.Select(c => c.Hd95));

    /// <summary>The lines test.py logs, in its order and number format (%f).</summary>
    public IEnumerable<string> SamedLogLines()
    {
        for (int i = 0; i < Cases.Count; i++)
            yield return Cases[i].SamedLogLine(i);
        for (int c = 1; c <= ClassNames.Count; c++)
        {
            var mean = ClassMeans[c - 1];
            string name = ClassNames[c - 1];
            // test.py prints the name only for classes it knows and drops it otherwise.
            yield return name == Data.ClassNames.Generic(c)
                ? $"Mean class {c} mean_dice {F(mean.Dice)} mean_hd95 {F(mean.Hd95)}"
                : $"Mean class {c} name {name} mean_dice {F(mean.Dice)} mean_hd95 {F(mean.Hd95)}";
        }

        yield return $"Testing performance in best val model: mean_dice : {F(MeanDice)} mean_hd95 : {F(MeanHd95)}";
    }

    /// <summary>Two case-by-class tables (Dice, then HD95) with a mean column and a mean row.</summary>
    public string FormatTable()
    {
        var text = new StringBuilder();
        AppendTable(text, "Dice", m => m.Dice, c => c.MeanDice, MeanDice);
        text.AppendLine();
        AppendTable(text, $"HD95 ({DistanceUnit})", m => m.Hd95, c => c.MeanHd95, MeanHd95);
        return text.ToString();
    }

    private void AppendTable(
        StringBuilder text, string title, Func<ClassMetric, double> value, Func<CaseEvaluation, double> caseMean, double overall)
    {
        var headers = ClassNames.Append("mean").ToArray();
        var widths = headers.Select(h => Math.Max(h.Length, 10)).ToArray();
        int caseWidth = Math.Max(4, Cases.Max(c => c.Case.Length));
        text.AppendLine(title);
        text.Append("case".PadRight(caseWidth));
        for (int i = 0; i < headers.Length; i++)
            text.Append("  ").Append(headers[i].PadLeft(widths[i]));
        text.AppendLine();
        foreach (var c in Cases)
            AppendRow(text, c.Case.PadRight(caseWidth), c.Classes.Select(value).Append(caseMean(c)), widths);
        AppendRow(text, "mean".PadRight(caseWidth), ClassMeans.Select(value).Append(overall), widths);
    }

    private static void AppendRow(StringBuilder text, string label, IEnumerable<double> values, int[] widths)
    {
        text.Append(label);
        int i = 0;
        foreach (double v in values)
            text.Append("  ").Append(F(v).PadLeft(widths[i++]));
        text.AppendLine();
    }

    private static string F(double value) => value.ToString("F6", CultureInfo.InvariantCulture);
}
