using System.Globalization;
using CsvHelper;
using SAMed.Data;
using SAMed.Evaluation;

namespace SAMed.Tests.Evaluation;

public class EvaluationReportTests
{
    private static readonly CaseEvaluation[] TwoCases =
    [
        new("case0001", [new(0.9, 2.0), new(1, 0), new(0, 0)]),
        new("case0002", [new(0.7, 4.0), new(0.5, 1.0), new(0, 0)]),
    ];

    [Fact]
    public void MeansAreOverCasesPerClassThenOverClasses()
    {
        var report = new EvaluationReport(TwoCases, ClassNames.For(3));
        Assert.Equal(0.8, report.ClassMeans[0].Dice, 1e-15);
        Assert.Equal(3.0, report.ClassMeans[0].Hd95, 1e-15);
        Assert.Equal(0.75, report.ClassMeans[1].Dice, 1e-15);
        Assert.Equal((0.8 + 0.75 + 0) / 3, report.MeanDice, 1e-15);
        Assert.Equal(3.5 / 3, report.MeanHd95, 1e-15);
        Assert.Equal(1.9 / 3, TwoCases[0].MeanDice, 1e-15);
    }

    [Fact]
    public void LogLinesFollowSamedTestPy()
    {
        var lines = new EvaluationReport(TwoCases, ClassNames.For(3)).SamedLogLines().ToArray();
        Assert.Equal(
        [
            "idx 0 case case0001 mean_dice 0.633333 mean_hd95 0.666667",
            "idx 1 case case0002 mean_dice 0.400000 mean_hd95 1.666667",
            "Mean class 1 mean_dice 0.800000 mean_hd95 3.000000",
            "Mean class 2 mean_dice 0.750000 mean_hd95 0.500000",
            "Mean class 3 mean_dice 0.000000 mean_hd95 0.000000",
            "Testing performance in best val model: mean_dice : 0.516667 mean_hd95 : 1.166667",
        ], lines);
    }

    [Fact]
    public void EightClassesUseTheSynapseOrganNames()
    {
        var metrics = Enumerable.Range(1, 8).Select(c => new ClassMetric(c / 10.0, c)).ToArray();
        var report = new EvaluationReport([new CaseEvaluation("case0008", metrics)], ClassNames.For(8));
        var lines = report.SamedLogLines().ToArray();
        Assert.Equal("Mean class 1 name spleen mean_dice 0.100000 mean_hd95 1.000000", lines[1]);
        Assert.Equal("Mean class 8 name pancreas mean_dice 0.800000 mean_hd95 8.000000", lines[8]);
        string table = report.FormatTable();
        Assert.Contains("right kidney", table);
        Assert.Contains("HD95 (voxels)", table);
    }

    [Fact]
    public void CaseWithWrongClassCountIsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => new EvaluationReport(TwoCases, ClassNames.For(8)));
        Assert.Contains("case0001", error.Message);
    }

    [Fact]
    public void CsvHoldsEveryNumberExactly()
    {
        var report = new EvaluationReport(
            [new("a", [new(1 / 3.0, Math.PI), new(0.1, 0.2)]), new("b", [new(2 / 7.0, Math.E), new(1, 0)])],
            ["liver", "class 2"], "mm");
        string path = Path.Combine(Path.GetTempPath(), $"report-{Guid.NewGuid():N}", "scores.csv");
        try
        {
            EvaluationCsv.Write(path, report);
            Assert.False(File.Exists(path + ".tmp"));
            var rows = new List<string[]>();
            using (var csv = CsvReader.Create(new StreamReader(path), null, leaveOpen: false))
                while (csv.Read())
                    rows.Add(Enumerable.Range(0, EvaluationCsv.Header.Length).Select(csv.GetString).ToArray());

            // 2 cases x (2 classes + case mean) + 2 class means + overall
            Assert.Equal(9, rows.Count);
            Assert.Equal(["case_class", "a", "1", "liver"], rows[0][..4]);
            Assert.Equal(1 / 3.0, double.Parse(rows[0][4], CultureInfo.InvariantCulture));
            Assert.Equal(Math.PI, double.Parse(rows[0][5], CultureInfo.InvariantCulture));
            Assert.Equal("mm", rows[0][6]);
            Assert.Equal(["case_mean", "a", "", ""], rows[2][..4]);
            Assert.Equal(report.Cases[0].MeanHd95, double.Parse(rows[2][5], CultureInfo.InvariantCulture));
            Assert.Equal(["class_mean", "", "2", "class 2"], rows[7][..4]);
            Assert.Equal(report.ClassMeans[1].Dice, double.Parse(rows[7][4], CultureInfo.InvariantCulture));
            Assert.Equal("overall", rows[8][0]);
            Assert.Equal(report.MeanDice, double.Parse(rows[8][4], CultureInfo.InvariantCulture));
            Assert.Equal(report.MeanHd95, double.Parse(rows[8][5], CultureInfo.InvariantCulture));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}
