using SAMed.Data;
using SAMed.IO;

namespace SAMed.Tests.Data;

public class SyntheticVolumesTests
{
    private static readonly SyntheticOptions Defaults = new();

    [Fact]
    public void SameSeedGivesIdenticalVolumesAndAnotherSeedDiffers()
    {
        var first = SyntheticVolumes.GenerateAll(Defaults).ToList();
        var second = SyntheticVolumes.GenerateAll(Defaults).ToList();
        var other = SyntheticVolumes.GenerateAll(Defaults with { Seed = Defaults.Seed + 1 }).ToList();
        Assert.Equal(first.Count, second.Count);
        for (int i = 0; i < first.Count; i++)
        {
            Assert.Equal(first[i].Volume.Image.Shape, second[i].Volume.Image.Shape);
            Assert.Equal(first[i].Volume.Image.Data, second[i].Volume.Image.Data);
            Assert.Equal(first[i].Volume.Label.Data, second[i].Volume.Label.Data);
            Assert.NotEqual(first[i].Volume.Image.Data, other[i].Volume.Image.Data);
        }
    }

    [Fact]
    public void EachCaseDependsOnlyOnSeedAndIndex()
    {
        var all = SyntheticVolumes.GenerateAll(Defaults).ToList();
        var alone = SyntheticVolumes.GenerateCase(Defaults, 3);
        Assert.Equal(all[3].Volume.Image.Data, alone.Volume.Image.Data);
        Assert.Equal("case0004", alone.Name);
        Assert.True(alone.IsTraining);
        Assert.False(SyntheticVolumes.GenerateCase(Defaults, Defaults.TrainCases).IsTraining);
        Assert.NotEqual(all[0].Volume.Label.Data, all[1].Volume.Label.Data);
    }

    [Theory]
    [InlineData(8, 64, 16, 24, 1234)]
    [InlineData(8, 16, 1, 2, 7)]
    [InlineData(1, 32, 4, 6, 99)]
    [InlineData(3, 48, 10, 12, 5)]
    [InlineData(13, 40, 8, 8, 2024)]
    public void ShapesValueRangesAndEveryClassInEveryCase(int numClasses, int size, int minSlices, int maxSlices, int seed)
    {
        var options = new SyntheticOptions
        {
            NumClasses = numClasses,
            Height = size,
            Width = size + 8,
            MinSlices = minSlices,
            MaxSlices = maxSlices,
            Seed = seed,
            TrainCases = 3,
            TestCases = 2,
        };
        foreach (var synthetic in SyntheticVolumes.GenerateAll(options))
        {
            var (image, label) = synthetic.Volume;
            Assert.Equal((NpyType.Float32, NpyType.Float32), (image.Type, label.Type));
            Assert.Equal(image.Shape, label.Shape);
            Assert.InRange(image.Shape[0], minSlices, maxSlices);
            Assert.Equal([size, size + 8], image.Shape[1..]);
            float[] pixels = image.ToFloat();
            Assert.InRange(pixels.Min(), 0f, 1f);
            Assert.InRange(pixels.Max(), 0f, 1f);
            float[] hounsfield = synthetic.Hounsfield.ToFloat();
            Assert.Equal(image.Shape, synthetic.Hounsfield.Shape);
            float notWhole = hounsfield.FirstOrDefault(v => v != MathF.Round(v) || v < -1024 || v > 3071, 0.5f);
            Assert.True(notWhole == 0.5f, $"{notWhole} is not a whole CT value");
            Assert.Equal(hounsfield.Select(SyntheticVolumes.Window), pixels);
            var classes = label.ToFloat().Distinct().Order().ToArray();
            Assert.Equal(Enumerable.Range(0, numClasses + 1).Select(k => (float)k), classes);
            Assert.Empty(DatasetValidator.CheckArrays(synthetic.Name, image, label, rank: 3, numClasses));
        }
    }

    [Fact]
    public void ClassesComeAndGoAcrossSlices()
    {
        var synthetic = SyntheticVolumes.GenerateCase(Defaults, 0);
        var (image, label) = synthetic.Volume;
        int depth = (int)image.Shape[0], sliceSize = (int)(image.Shape[1] * image.Shape[2]);
        float[] labels = label.ToFloat();
        var perSlice = Enumerable.Range(0, depth).Select(z => labels.AsSpan(z * sliceSize, sliceSize).ToArray().Distinct().Count()).ToList();
        Assert.Contains(perSlice, count => count < Defaults.NumClasses + 1);
        Assert.True(perSlice.Distinct().Count() > 2, $"class counts per slice: {string.Join(", ", perSlice)}");
    }

    [Fact]
    public void ClassesDifferInIntensityButTheirRangesOverlap()
    {
        var stats = new Dictionary<int, List<float>>();
        foreach (var synthetic in SyntheticVolumes.GenerateAll(Defaults))
        {
            float[] image = synthetic.Volume.Image.ToFloat(), label = synthetic.Volume.Label.ToFloat();
            for (int i = 0; i < image.Length; i++)
            {
                if (!stats.TryGetValue((int)label[i], out var values))
                    stats[(int)label[i]] = values = [];
                values.Add(image[i]);
            }
        }
        var means = Enumerable.Range(1, Defaults.NumClasses).Select(k => stats[k].Average()).ToList();
        for (int k = 1; k < means.Count; k++)
            Assert.True(means[k] > means[k - 1] + 0.02, $"class {k + 1} mean {means[k]} not above class {k} mean {means[k - 1]}");
        for (int k = 2; k <= Defaults.NumClasses; k++)
        {
            // Noise, texture and blur make neighbouring classes overlap: no threshold separates them.
            Assert.True(stats[k].Min() < stats[k - 1].Max(), $"classes {k - 1} and {k} do not overlap in intensity");
        }
        // Unlabeled structures (distractors, soft tissue) reach into the organs' intensity range too.
        float organLow = stats[1].Average(), organHigh = stats[Defaults.NumClasses].Average();
        Assert.Contains(stats[0], v => v > organLow && v < organHigh);
    }

    [Fact]
    public void OrgansAreLearnableAsRegionsButNotByPixelIntensity()
    {
        var cases = SyntheticVolumes.GenerateAll(Defaults).ToList();
        int n = Defaults.NumClasses + 1;
        var sums = new double[n];
        var counts = new double[n];
        foreach (var synthetic in cases.Where(c => c.IsTraining))
        {
            float[] image = synthetic.Volume.Image.ToFloat(), label = synthetic.Volume.Label.ToFloat();
            for (int i = 0; i < image.Length; i++)
            {
                sums[(int)label[i]] += image[i];
                counts[(int)label[i]]++;
            }
        }
        double[] means = [.. sums.Zip(counts, (sum, count) => sum / count)];
        int Nearest(double value, int from) => Enumerable.Range(from, n - from).MinBy(k => Math.Abs(value - means[k]));

        // Learnable: the mean intensity of a whole organ names its class in most organs of every case.
        int named = 0, organs = 0;
        var overlap = new double[n];
        var predicted = new double[n];
        var truth = new double[n];
        foreach (var synthetic in cases)
        {
            float[] image = synthetic.Volume.Image.ToFloat(), label = synthetic.Volume.Label.ToFloat();
            for (int k = 1; k < n; k++)
            {
                organs++;
                named += Nearest(Enumerable.Range(0, image.Length).Where(i => label[i] == k).Average(i => image[i]), 1) == k ? 1 : 0;
            }
            if (synthetic.IsTraining)
                continue;
            for (int i = 0; i < image.Length; i++)
            {
                int guess = Nearest(image[i], 0), actual = (int)label[i];
                predicted[guess]++;
                truth[actual]++;
                overlap[actual] += guess == actual ? 1 : 0;
            }
        }
        Assert.True(named >= 0.75 * organs, $"only {named} of {organs} organs have their class's intensity");

        // Not trivial: classifying each test pixel by intensity alone segments no organ well.
        for (int k = 1; k < n; k++)
        {
            double dice = 2 * overlap[k] / (predicted[k] + truth[k]);
            Assert.True(dice < 0.5, $"class {k}: intensity alone reaches Dice {dice:F2}");
        }
    }

    [Fact]
    public void OrgansVaryInPositionAndSizeAcrossCases()
    {
        var cases = SyntheticVolumes.GenerateAll(Defaults).ToList();
        for (int k = 1; k <= Defaults.NumClasses; k++)
        {
            var sizes = cases.Select(c => c.Volume.Label.ToFloat().Count(v => v == k)).ToList();
            var centroids = cases.Select(c => Centroid(c.Volume.Label, k)).ToList();
            Assert.True(sizes.Distinct().Count() == sizes.Count, $"class {k} sizes repeat: {string.Join(", ", sizes)}");
            Assert.True(centroids.Distinct().Count() == centroids.Count, $"class {k} centroids repeat");
        }
    }

    [Fact]
    public void WindowIsSamedPreprocessing()
    {
        Assert.Equal(0f, SyntheticVolumes.Window(-1000));
        Assert.Equal(0f, SyntheticVolumes.Window(-125));
        Assert.Equal(0.3125f, SyntheticVolumes.Window(0));
        Assert.Equal(1f, SyntheticVolumes.Window(275));
        Assert.Equal(1f, SyntheticVolumes.Window(1200));
    }

    [Fact]
    public void InvalidOptionsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticVolumes.GenerateAll(Defaults with { NumClasses = 0 }).ToList());
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticVolumes.GenerateAll(Defaults with { Height = 8 }).ToList());
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticVolumes.GenerateAll(Defaults with { MinSlices = 5, MaxSlices = 4 }).ToList());
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticVolumes.GenerateAll(Defaults with { TrainCases = 0, TestCases = 0 }).ToList());
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticVolumes.GenerateCase(Defaults, Defaults.TotalCases));
    }

    private static (double Z, double Y, double X) Centroid(NpyArray label, int classId)
    {
        float[] values = label.ToFloat();
        long h = label.Shape[1], w = label.Shape[2];
        double z = 0, y = 0, x = 0;
        int n = 0;
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] != classId)
                continue;
            z += i / (h * w);
            y += i / w % h;
            x += i % w;
            n++;
        }
        return (z / n, y / n, x / n);
    }
}
