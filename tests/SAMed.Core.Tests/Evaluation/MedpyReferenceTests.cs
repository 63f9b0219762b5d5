using System.Text.Json;
using SAMed.Evaluation;
using SAMed.IO;
using SAMed.Tests.Reference;

namespace SAMed.Tests.Evaluation;

/// <summary>Every case of reference/metrics/metrics.json: medpy dc, hd, hd95 and SAMed's per-case rule.</summary>
public class MedpyReferenceTests
{
    private static readonly string Folder = SharedPaths.Reference("metrics");

    private static readonly JsonElement[] Cases = LoadCases();

    public static TheoryData<int> CaseIndices()
    {
        var data = new TheoryData<int>();
        foreach (var c in Cases)
            data.Add(c.GetProperty("index").GetInt32());
        return data;
    }

    [Fact]
    public void EveryMaskPairInTheFolderHasACase()
    {
        var files = Directory.GetFiles(Folder, "pred_*.npy").Select(Path.GetFileName).Order().ToArray();
        var expected = Cases.Select(c => $"pred_{c.GetProperty("index").GetInt32():D2}.npy").Order().ToArray();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, files);
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void MatchesMedpyAndSamedRule(int index)
    {
        var c = Cases.Single(x => x.GetProperty("index").GetInt32() == index);
        var (prediction, label, shape) = LoadMasks(index);
        Assert.Equal(c.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()), shape);
        var spacing = c.GetProperty("spacing").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var unit = new VoxelGrid(shape);
        var spaced = new VoxelGrid(shape, spacing);
        string rule = c.GetProperty("samed_rule").GetString()!;
        var samed = SamedMetrics.MetricPerCase(prediction, label, unit);

        if (rule.StartsWith("medpy", StringComparison.Ordinal))
        {
            double dice = c.GetProperty("dice").GetDouble();
            double hd95 = c.GetProperty("hd95").GetDouble();
            Assert.Equal(dice, BinaryMetrics.Dice(prediction, label), 1e-12);
            var distances = SurfaceDistances.Compute(prediction, label, unit);
            Assert.Equal(hd95, distances.Hausdorff95, 1e-6);
            Assert.Equal(c.GetProperty("hd").GetDouble(), distances.Hausdorff, 1e-6);
            Assert.Equal(c.GetProperty("hd95_spacing").GetDouble(), BinaryMetrics.Hausdorff95(prediction, label, spaced), 1e-6);
            Assert.Equal(dice, samed.Dice, 1e-12);
            Assert.Equal(hd95, samed.Hd95, 1e-6);
        }
        else
        {
            var numbers = rule.Trim('(', ')').Split(',').Select(s => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(new ClassMetric(numbers[0], numbers[1]), samed);
        }

        // The label-map path (one pass, cropped) must give the same numbers as the binary-mask path.
        var perClass = SamedMetrics.MetricPerClass(
            prediction.Select(v => v ? 1 : 0).ToArray(), label.Select(v => v ? 1 : 0).ToArray(), unit, 1);
        Assert.Equal(samed.Dice, perClass[0].Dice, 1e-12);
        Assert.Equal(samed.Hd95, perClass[0].Hd95, 1e-12);
    }

    private static (bool[] Prediction, bool[] Label, int[] Shape) LoadMasks(int index)
    {
        var prediction = Npy.Read(Path.Combine(Folder, $"pred_{index:D2}.npy"));
        var label = Npy.Read(Path.Combine(Folder, $"gt_{index:D2}.npy"));
        Assert.Equal(prediction.Shape, label.Shape);
        return (prediction.ToInt64().Select(v => v != 0).ToArray(),
                label.ToInt64().Select(v => v != 0).ToArray(),
                prediction.Shape.Select(d => (int)d).ToArray());
    }

    private static JsonElement[] LoadCases()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "metrics.json")));
        return document.RootElement.GetProperty("cases").EnumerateArray().Select(e => e.Clone()).ToArray();
    }
}
