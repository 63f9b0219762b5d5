using SAMed.Evaluation;

namespace SAMed.Tests.Evaluation;

public class SurfaceDistancesTests
{
    public static TheoryData<int[], double[]> Grids() => new()
    {
        { [17], [0.7] },
        { [9, 13], [1.3, 0.45] },
        { [1, 8, 9], [2.5, 0.7, 0.7] },
        { [7, 1, 9], [3.0, 0.8, 0.6] },
        { [70, 6, 5], [2.5, 0.7, 0.9] },
        { [5, 6, 7], [1.0, 1.0, 1.0] },
        { [4, 3, 5, 6], [1.5, 0.5, 2.0, 0.75] },
        { [65, 3, 4], [2.5, 0.7, 0.7] },
        { [129, 2, 3], [1.0, 0.45, 1.3] },
    };

    [Theory]
    [MemberData(nameof(Grids))]
    public void SliceBySliceDistancesAreTheWholeGridTransformBitForBit(int[] shape, double[] spacing)
    {
        // The spec: scipy's distance_transform_edt(~reference_border) on the whole grid, read at the result's border
        // voxels, as medpy's __surface_distances does.
        var grid = new VoxelGrid(shape, spacing);
        var random = new Random(shape.Sum() * 31 + shape.Length);
        foreach (double density in new[] { 0.05, 0.3, 0.8 })
        {
            var result = RandomMask(random, grid, density);
            var reference = RandomMask(random, grid, density);

            var distances = SurfaceDistances.Compute(result, reference, grid);

            Assert.Equal(WholeGrid(result, reference, grid), distances.ResultToReference);
            Assert.Equal(WholeGrid(reference, result, grid), distances.ReferenceToResult);
        }
    }

    [Fact]
    public void ClassesOfAByteLabelMapGetTheWholeGridHd95BitForBit()
    {
        // Each class is measured inside its own box of the label map; the spec is the whole grid's transform.
        var grid = new VoxelGrid([12, 10, 11], [2.0, 0.8, 0.8]);
        var random = new Random(5);
        var prediction = new byte[grid.Count];
        var label = new byte[grid.Count];
        for (int z = 3; z < 9; z++)
            for (int y = 2; y < 7; y++)
                for (int x = 1; x < 8; x++)
                {
                    long i = z * 110 + y * 11 + x;
                    prediction[i] = (byte)(random.NextDouble() < 0.7 ? 2 : 1);
                    label[i + 11] = (byte)(random.NextDouble() < 0.6 ? 2 : 1);
                }

        var metrics = SamedMetrics.MetricPerClass<byte>(prediction, label, grid, 2);

        for (int c = 1; c <= 2; c++)
        {
            bool[] result = [.. prediction.Select(v => v == c)], reference = [.. label.Select(v => v == c)];
            double expected = Percentile.Linear([.. WholeGrid(result, reference, grid), .. WholeGrid(reference, result, grid)], 95);
            Assert.Equal(expected, metrics[c - 1].Hd95);
        }
    }

    [Theory]
    [MemberData(nameof(Grids))]
    public void Hd95SelectedInPassesEqualsTheSortedDistances(int[] shape, double[] spacing)
    {
        // heldDistances 0 selects all 64 bits in passes over recomputed distances (and finds the rank above in one more
        // pass when needed); 1 and 5 collect a small bucket after a pass or two. Ties and repeated values abound here.
        var grid = new VoxelGrid(shape, spacing);
        var random = new Random(shape.Sum() * 7 + 1);
        foreach (double density in new[] { 0.05, 0.5, 0.9 })
        {
            var result = RandomMask(random, grid, density);
            var reference = RandomMask(random, grid, density);
            double expected = Percentile.Linear([.. WholeGrid(result, reference, grid), .. WholeGrid(reference, result, grid)], 95);

            Assert.Equal(expected, SurfaceDistances.Hausdorff95Of(result, reference, grid, heldDistances: 0));
            Assert.Equal(expected, SurfaceDistances.Hausdorff95Of(result, reference, grid, heldDistances: 1));
            Assert.Equal(expected, SurfaceDistances.Hausdorff95Of(result, reference, grid, heldDistances: 5));
            Assert.Equal(expected, SurfaceDistances.Hausdorff95Of(result, reference, grid));
            Assert.Equal(expected, SurfaceDistances.Compute(result, reference, grid).Hausdorff95);
        }
    }

    private static bool[] RandomMask(Random random, VoxelGrid grid, double density)
    {
        var mask = Enumerable.Range(0, (int)grid.Count).Select(_ => random.NextDouble() < density).ToArray();
        mask[random.Next(mask.Length)] = true;
        return mask;
    }

    private static double[] WholeGrid(bool[] from, bool[] to, VoxelGrid grid)
    {
        var fromBorder = BinarySurfaceTests.NaiveBorder(from, grid);
        var toBorder = BinarySurfaceTests.NaiveBorder(to, grid);
        var field = EuclideanDistanceTransform.Distances([.. toBorder.Select(b => !b)], grid);
        return [.. Enumerable.Range(0, from.Length).Where(i => fromBorder[i]).Select(i => field[i])];
    }
}
