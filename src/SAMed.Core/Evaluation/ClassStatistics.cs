using System.Numerics;

namespace SAMed.Evaluation;

/// <summary>Voxel counts, overlaps and bounding boxes of every class of a prediction and a label map.</summary>
internal sealed class ClassStatistics
{
    private ClassStatistics(int numClasses, int rank)
    {
        PredictionCounts = new long[numClasses + 1];
        LabelCounts = new long[numClasses + 1];
        Intersections = new long[numClasses + 1];
        Boxes = Enumerable.Range(0, numClasses + 1).Select(_ => new BoundingBox(rank)).ToArray();
    }

    public long[] PredictionCounts { get; }
    public long[] LabelCounts { get; }
    public long[] Intersections { get; }

    /// <summary>Per class, the box around its voxels in either map.</summary>
    public BoundingBox[] Boxes { get; }

    public static ClassStatistics Collect<T>(
        ReadOnlySpan<T> prediction, ReadOnlySpan<T> label, VoxelGrid grid, int numClasses,
        string predictionName, string labelName)
        where T : IBinaryInteger<T>
    {
        var statistics = new ClassStatistics(numClasses, grid.Rank);
        var coordinates = new int[grid.Rank];
        for (int i = 0; i < prediction.Length; i++)
        {
            int p = int.CreateSaturating(prediction[i]), g = int.CreateSaturating(label[i]);
            if ((p | g) != 0)
            {
                if ((uint)p > (uint)numClasses)
                    throw OutOfRange(predictionName, p, i, numClasses);
                if ((uint)g > (uint)numClasses)
                    throw OutOfRange(labelName, g, i, numClasses);
                statistics.PredictionCounts[p]++;
                statistics.LabelCounts[g]++;
                if (p == g)
                    statistics.Intersections[p]++;
                if (p != 0)
                    statistics.Boxes[p].Include(coordinates);
                if (g != 0 && g != p)
                    statistics.Boxes[g].Include(coordinates);
            }

            grid.Advance(coordinates);
        }

        return statistics;
    }

    /// <summary>The error for a label outside 0..numClasses in a map named <paramref name="source"/>.</summary>
    public static ArgumentException OutOfRange(string source, int value, int index, int numClasses) =>
        new($"{source}: label {value} at flat index {index} is outside 0..{numClasses} (num_classes = {numClasses})");
}
