using SAMed.Evaluation;

namespace SAMed.Tests.Evaluation;

public class BinarySurfaceTests
{
    [Fact]
    public void ObjectTouchingTheGridEdgeHasItsEdgeVoxelsOnTheSurface()
    {
        // A full 3x3x3 block: erosion with border_value 0 keeps only the centre.
        var grid = new VoxelGrid([3, 3, 3]);
        var border = BinarySurface.Border(Enumerable.Repeat(true, 27).ToArray(), grid);
        Assert.Equal(26, border.Count(b => b));
        Assert.False(border[13]);
    }

    [Fact]
    public void DiagonalNeighboursDoNotCountWithConnectivityOne()
    {
        // 5x5 block inside 7x7: the 3x3 interior keeps all four face neighbours.
        var grid = new VoxelGrid([7, 7]);
        var mask = new bool[49];
        for (int y = 1; y <= 5; y++)
            for (int x = 1; x <= 5; x++)
                mask[y * 7 + x] = true;
        var border = BinarySurface.Border(mask, grid);
        Assert.Equal(16, border.Count(b => b));
        Assert.False(border[2 * 7 + 2]);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void HausdorffMatchesBruteForceOverSurfaceVoxels(int seed)
    {
        var random = new Random(seed);
        var grid = new VoxelGrid([random.Next(3, 9), random.Next(3, 9), random.Next(3, 9)],
            [0.5 + random.NextDouble(), 0.5 + random.NextDouble(), 0.5 + 2 * random.NextDouble()]);
        var result = Enumerable.Range(0, (int)grid.Count).Select(_ => random.NextDouble() < 0.3).ToArray();
        var reference = Enumerable.Range(0, (int)grid.Count).Select(_ => random.NextDouble() < 0.3).ToArray();
        result[0] = reference[^1] = true;

        var distances = SurfaceDistances.Compute(result, reference, grid);

        var expectedForward = Directed(NaiveBorder(result, grid), NaiveBorder(reference, grid), grid);
        var expectedBackward = Directed(NaiveBorder(reference, grid), NaiveBorder(result, grid), grid);
        Assert.Equal(expectedForward.Length, distances.ResultToReference.Length);
        for (int i = 0; i < expectedForward.Length; i++)
            Assert.Equal(expectedForward[i], distances.ResultToReference[i], 1e-12);
        Assert.Equal(expectedBackward.Length, distances.ReferenceToResult.Length);
        Assert.Equal(Math.Max(expectedForward.Max(), expectedBackward.Max()), distances.Hausdorff, 1e-12);
    }

    /// <summary>medpy's border by its definition: a set voxel with a face neighbour unset or outside the grid.</summary>
    internal static bool[] NaiveBorder(bool[] mask, VoxelGrid grid)
    {
        var border = new bool[mask.Length];
        for (int i = 0; i < mask.Length; i++)
        {
            if (!mask[i])
                continue;
            var c = EuclideanDistanceTransformTests.Coordinates(i, grid);
            bool eroded = true;
            for (int axis = 0; axis < grid.Rank; axis++)
                foreach (int step in new[] { -1, 1 })
                {
                    int n = c[axis] + step;
                    eroded &= n >= 0 && n < grid.Shape[axis] && mask[i + step * grid.Strides[axis]];
                }

            border[i] = !eroded;
        }

        return border;
    }

    private static double[] Directed(bool[] from, bool[] to, VoxelGrid grid)
    {
        var targets = Enumerable.Range(0, to.Length).Where(i => to[i]).Select(i => EuclideanDistanceTransformTests.Coordinates(i, grid)).ToArray();
        return Enumerable.Range(0, from.Length).Where(i => from[i]).Select(i =>
        {
            var c = EuclideanDistanceTransformTests.Coordinates(i, grid);
            return targets.Min(t => Math.Sqrt(Enumerable.Range(0, grid.Rank).Sum(a => Math.Pow((c[a] - t[a]) * grid.Spacing[a], 2))));
        }).ToArray();
    }
}
