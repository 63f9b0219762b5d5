using SAMed.Evaluation;

namespace SAMed.Tests.Evaluation;

public class EuclideanDistanceTransformTests
{
    public static TheoryData<int> Seeds() => [1, 2, 3, 4, 5, 6, 7, 8];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void MatchesBruteForceOnRandomAnisotropicVolumes(int seed)
    {
        var random = new Random(seed);
        int rank = 1 + seed % 3;
        var shape = Enumerable.Range(0, rank).Select(_ => random.Next(1, rank == 1 ? 40 : rank == 2 ? 16 : 9)).ToArray();
        var spacing = Enumerable.Range(0, rank).Select(_ => 0.3 + 3 * random.NextDouble()).ToArray();
        var grid = new VoxelGrid(shape, spacing);
        // Sparse backgrounds leave whole lines without a zero voxel, which the separable passes must carry through.
        double backgroundFraction = seed % 2 == 0 ? 0.03 : 0.4;
        var input = new bool[grid.Count];
        for (int i = 0; i < input.Length; i++)
            input[i] = random.NextDouble() >= backgroundFraction;
        input[random.Next(input.Length)] = false;

        var actual = EuclideanDistanceTransform.Distances(input, grid);

        var expected = BruteForce(input, grid);
        for (int i = 0; i < input.Length; i++)
            Assert.Equal(expected[i], actual[i], 1e-12);
    }

    [Fact]
    public void SingleBackgroundVoxelGivesDistanceToIt()
    {
        var grid = new VoxelGrid([3, 4, 5], [2.0, 0.5, 1.5]);
        var input = Enumerable.Repeat(true, (int)grid.Count).ToArray();
        input[0] = false;
        var actual = EuclideanDistanceTransform.Distances(input, grid);
        // voxel (2, 3, 4): sqrt((2*2)^2 + (3*0.5)^2 + (4*1.5)^2)
        Assert.Equal(Math.Sqrt(16 + 2.25 + 36), actual[^1], 1e-12);
        Assert.Equal(0.0, actual[0]);
    }

    [Fact]
    public void TermsAreFormedAsScipyFormsThem()
    {
        // scipy: dt = (feature - index) * sampling per axis, dt *= dt, add.reduce over the axes (then sqrt). With
        // s = 0.7 and d = 3, (d·s)² = 4.409999999999998 while (s²·d)·d = 4.409999999999999: the bits differ.
        var grid = new VoxelGrid([3, 4], [2.5, 0.7]);
        var field = Enumerable.Repeat(double.PositiveInfinity, (int)grid.Count).ToArray();
        field[0] = 0;
        EuclideanDistanceTransform.SquaredInPlace(field, grid);
        double z = 2 * 2.5, x = 3 * 0.7;
        Assert.Equal(z * z + x * x, field[^1]);
        Assert.Equal(x * x, field[3]);
        Assert.NotEqual(0.7 * 0.7 * 3 * 3, x * x);
    }

    [Fact]
    public void InputWithoutBackgroundIsRejected()
    {
        var grid = new VoxelGrid([2, 2]);
        var error = Assert.Throws<ArgumentException>(() => EuclideanDistanceTransform.Distances([true, true, true, true], grid));
        Assert.Contains("no zero voxel", error.Message);
    }

    [Fact]
    public void SpacingMustMatchTheRank()
    {
        var error = Assert.Throws<ArgumentException>(() => new VoxelGrid([2, 3, 4], [1.0, 2.0]));
        Assert.Contains("3 axes", error.Message);
    }

    private static double[] BruteForce(bool[] input, VoxelGrid grid)
    {
        var background = Enumerable.Range(0, input.Length).Where(i => !input[i]).Select(i => Coordinates(i, grid)).ToArray();
        var result = new double[input.Length];
        for (int i = 0; i < input.Length; i++)
        {
            if (!input[i])
                continue;
            var here = Coordinates(i, grid);
            result[i] = background.Min(b => Math.Sqrt(Enumerable.Range(0, grid.Rank)
                .Sum(axis => Math.Pow((here[axis] - b[axis]) * grid.Spacing[axis], 2))));
        }

        return result;
    }

    internal static int[] Coordinates(long index, VoxelGrid grid) =>
        Enumerable.Range(0, grid.Rank).Select(axis => (int)(index / grid.Strides[axis] % grid.Shape[axis])).ToArray();
}
