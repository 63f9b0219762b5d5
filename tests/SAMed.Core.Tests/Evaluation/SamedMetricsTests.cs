using SAMed.Evaluation;

namespace SAMed.Tests.Evaluation;

public class SamedMetricsTests
{
    [Theory]
    [InlineData(21)]
    [InlineData(22)]
    public void PerClassLoopEqualsTheBinaryRuleForEveryClass(int seed)
    {
        var random = new Random(seed);
        var grid = new VoxelGrid([6, 9, 11], [2.5, 0.8, 0.8]);
        const int numClasses = 5;
        // Class 4 only in the prediction -> (1, 0); class 5 in neither -> (0, 0); class 3 only in the label -> (0, 0).
        var prediction = RandomLabels(random, grid, [1, 2, 4]);
        var label = prediction.Select(v => v == 4 || random.NextDouble() < 0.2 ? 0 : v).ToArray();
        var extra = RandomLabels(random, grid, [3]);
        for (int i = 0; i < label.Length; i++)
            if (label[i] == 0 && extra[i] == 3)
                label[i] = 3;

        var perClass = SamedMetrics.MetricPerClass(prediction, label, grid, numClasses);

        Assert.Equal(numClasses, perClass.Length);
        for (int c = 1; c <= numClasses; c++)
        {
            var expected = SamedMetrics.MetricPerCase(
                prediction.Select(v => v == c).ToArray(), label.Select(v => v == c).ToArray(), grid);
            Assert.Equal(expected.Dice, perClass[c - 1].Dice, 1e-12);
            Assert.Equal(expected.Hd95, perClass[c - 1].Hd95, 1e-12);
        }

        Assert.Equal(new ClassMetric(1, 0), perClass[3]);
        Assert.Equal(new ClassMetric(0, 0), perClass[4]);
        Assert.Equal(new ClassMetric(0, 0), perClass[2]);
        Assert.InRange(perClass[0].Dice, 0.5, 0.99);
        Assert.True(perClass[0].Hd95 > 0);
    }

    [Fact]
    public void AbsentClassesFollowSamedsRuleOrMonaisNan()
    {
        var grid = new VoxelGrid([2, 3]);
        // class 1 in both, 2 only predicted, 3 only in the label (missed), 4 in neither.
        int[] prediction = [1, 1, 2, 0, 0, 0];
        int[] label = [1, 0, 0, 3, 3, 0];
        var samed = SamedMetrics.MetricPerClass(prediction, label, grid, 4);
        Assert.Equal([new ClassMetric(1, 0), new ClassMetric(0, 0), new ClassMetric(0, 0)], samed[1..]);

        var nan = SamedMetrics.MetricPerClass(prediction, label, grid, 4, absent: AbsentClassRule.Nan);
        Assert.Equal(samed[0], nan[0]);
        Assert.True(double.IsNaN(nan[1].Dice) && double.IsNaN(nan[1].Hd95));
        Assert.Equal(0, nan[2].Dice);
        Assert.True(double.IsNaN(nan[2].Hd95));
        Assert.True(double.IsNaN(nan[3].Dice) && double.IsNaN(nan[3].Hd95));

        // Means skip NaN (np.nanmean): Dice over classes 1 and 3, HD95 over class 1 only.
        var evaluation = new CaseEvaluation("c", nan);
        Assert.Equal((nan[0].Dice + 0) / 2, evaluation.MeanDice, 1e-12);
        Assert.Equal(nan[0].Hd95, evaluation.MeanHd95, 1e-12);
        Assert.Equal((nan[0].Dice + 1 + 0 + 0) / 4, new CaseEvaluation("c", samed).MeanDice, 1e-12);
        Assert.True(double.IsNaN(new CaseEvaluation("c", [nan[3]]).MeanDice));
    }

    [Fact]
    public void LabelsAboveNumClassesNameTheSource()
    {
        var grid = new VoxelGrid([2, 2]);
        var error = Assert.Throws<ArgumentException>(() =>
            SamedMetrics.MetricPerClass([0, 1, 9, 0], [0, 1, 1, 0], grid, 8, "case7_pred.nii.gz", "case7_gt.nii.gz"));
        Assert.Contains("case7_pred.nii.gz", error.Message);
        Assert.Contains("label 9", error.Message);
    }

    [Fact]
    public void MismatchedLengthIsRejected()
    {
        var grid = new VoxelGrid([2, 2]);
        Assert.Throws<ArgumentException>(() => SamedMetrics.MetricPerClass([0, 1, 1], [0, 1, 1, 0], grid, 1));
    }

    private static int[] RandomLabels(Random random, VoxelGrid grid, int[] classes)
    {
        var labels = new int[grid.Count];
        foreach (int c in classes)
        {
            // A random box per class, so that classes are compact objects with real surfaces.
            var low = grid.Shape.Select(d => random.Next(0, d - 2)).ToArray();
            var high = low.Select((l, a) => random.Next(l + 1, grid.Shape[a])).ToArray();
            for (int i = 0; i < labels.Length; i++)
            {
                var p = EuclideanDistanceTransformTests.Coordinates(i, grid);
                if (Enumerable.Range(0, grid.Rank).All(a => p[a] >= low[a] && p[a] <= high[a]) && random.NextDouble() < 0.9)
                    labels[i] = c;
            }
        }

        return labels;
    }
}
