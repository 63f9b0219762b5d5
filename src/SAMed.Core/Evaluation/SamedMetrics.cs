using System.Numerics;

namespace SAMed.Evaluation;

/// <summary>SAMed's per-case rule (utils.calculate_metric_percase) and its per-class loop (utils.test_single_volume).</summary>
public static class SamedMetrics
{
    private const long LargeCrop = 1 << 20;

    /// <summary>
    /// calculate_metric_percase: both masks non-empty -> (medpy dc, medpy hd95); only the prediction non-empty ->
    /// (1, 0); an empty prediction -> (0, 0). SAMed passes no spacing (unit voxels); a grid with spacing gives HD95 in
    /// its units.
    /// </summary>
    public static ClassMetric MetricPerCase(
        ReadOnlySpan<bool> prediction, ReadOnlySpan<bool> label, VoxelGrid grid, AbsentClassRule absent = AbsentClassRule.Samed)
    {
        grid.RequireLength(prediction.Length, "prediction");
        grid.RequireLength(label.Length, "label");
        bool predicted = prediction.Contains(true);
        bool labelled = label.Contains(true);
        if (predicted && labelled)
            return new ClassMetric(BinaryMetrics.Dice(prediction, label), BinaryMetrics.Hausdorff95(prediction, label, grid));
        return absent.Score(predicted, labelled);
    }

    /// <summary>
    /// calculate_metric_percase(prediction == c, label == c) for c = 1..numClasses, in one pass over both label maps
    /// and with every distance transform cropped to the class's bounding box. The maps are integers of any width
    /// (one byte a voxel as test holds them, int as score reads files).
    /// </summary>
    /// <param name="predictionName">Names the prediction in error messages (e.g. its file).</param>
    /// <param name="labelName">Names the label map in error messages.</param>
    /// <param name="absent">How a class empty in either map is scored (SAMed's rule by default).</param>
    public static ClassMetric[] MetricPerClass<T>(
        ReadOnlySpan<T> prediction, ReadOnlySpan<T> label, VoxelGrid grid, int numClasses,
        string predictionName = "prediction", string labelName = "label", AbsentClassRule absent = AbsentClassRule.Samed)
        where T : IBinaryInteger<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);
        grid.RequireLength(prediction.Length, predictionName);
        grid.RequireLength(label.Length, labelName);
        var statistics = ClassStatistics.Collect(prediction, label, grid, numClasses, predictionName, labelName);
        var metrics = new ClassMetric[numClasses];
        for (int c = 1; c <= numClasses; c++)
        {
            long predicted = statistics.PredictionCounts[c];
            long labelled = statistics.LabelCounts[c];
            if (predicted > 0 && labelled > 0)
            {
                var box = statistics.Boxes[c];
                double hd95 = SurfaceDistances.Hausdorff95Within(prediction, label, grid, box, T.CreateTruncating(c));
                double dice = BinaryMetrics.Dice(statistics.Intersections[c], predicted, labelled);
                metrics[c - 1] = new ClassMetric(dice, hd95);
                // A class spread over the volume leaves large-object garbage (its surfaces' bits, a quarter byte a voxel of
                // its box, and its distances); collected here, the next class reuses the memory instead of adding to it.
                if (box.Crop(grid).Count > LargeCrop)
                    GC.Collect();
            }
            else
            {
                metrics[c - 1] = absent.Score(predicted > 0, labelled > 0);
            }
        }

        return metrics;
    }
}
