using SAMed.Data;

namespace SAMed.Tests.Data;

public class RandomGeneratorTests
{
    private static float[,] Labels(int height, int width)
    {
        var (_, label) = SyntheticSlices.Slice(3, height, width, 8);
        var matrix = new float[height, width];
        Buffer.BlockCopy(label, 0, matrix, 0, label.Length * sizeof(float));
        return matrix;
    }

    private static float[,] Scale(float[,] a, float factor)
    {
        var r = (float[,])a.Clone();
        for (int y = 0; y < r.GetLength(0); y++)
        {
            for (int x = 0; x < r.GetLength(1); x++)
                r[y, x] *= factor;
        }
        return r;
    }

    private static long[,] ToLong(float[,] a)
    {
        var r = new long[a.GetLength(0), a.GetLength(1)];
        for (int y = 0; y < r.GetLength(0); y++)
        {
            for (int x = 0; x < r.GetLength(1); x++)
                r[y, x] = (long)a[y, x];
        }
        return r;
    }

    [Fact]
    public void ResizeZoomsImageCubicLabelNearestAndLowResFromTheZoomedLabel()
    {
        var label = Labels(20, 24);
        var image = Scale(label, 0.1f);
        var sample = new RandomGenerator(32, 8).Resize(image, label, "case0001_slice000");
        Assert.Equal("case0001_slice000", sample.CaseName);
        Assert.Equal(Ndimage.ZoomTo(image, 32, 32, 3), sample.Image);
        var zoomedLabel = Ndimage.ZoomTo(label, 32, 32, 0);
        Assert.Equal(ToLong(zoomedLabel), sample.Label);
        Assert.Equal(ToLong(Ndimage.ZoomTo(zoomedLabel, 8, 8, 0)), sample.LowResLabel);

        using var tensor = sample.ImageTensor();
        Assert.Equal([3L, 32, 32], tensor.shape);
        Assert.Equal(TorchSharp.torch.ScalarType.Float32, tensor.dtype);
        using var labelTensor = sample.LabelTensor();
        Assert.Equal(TorchSharp.torch.ScalarType.Int64, labelTensor.dtype);
        using var lowRes = sample.LowResLabelTensor();
        Assert.Equal([8L, 8], lowRes.shape);
    }

    [Fact]
    public void ResizeKeepsASliceAlreadyAtTheOutputSize()
    {
        var label = Labels(16, 16);
        var sample = new RandomGenerator(16, 4).Resize(Scale(label, 0.1f), label);
        Assert.Equal(Scale(label, 0.1f), sample.Image);
        Assert.Equal(ToLong(label), sample.Label);
    }

    [Fact]
    public void AugmentIsOneOfSamedsGeometriesAppliedAlikeToImageAndLabel()
    {
        // At the output size nothing is zoomed, so the result must be exactly one of: unchanged, one of the eight
        // rot90+flip combinations, or a rotation by an integer angle in [-20, 19] (order 0).
        var label = Labels(16, 16);
        var image = Scale(label, 0.1f);
        var rotFlips = new List<float[,]>();
        for (int k = 0; k < 4; k++)
        {
            for (int axis = 0; axis < 2; axis++)
                rotFlips.Add(NdimageOrientation.Flip(NdimageOrientation.Rot90(label, k), axis));
        }
        var rotations = Enumerable.Range(-20, 40).Select(a => Ndimage.Rotate(label, a)).ToList();
        var generator = new RandomGenerator(16, 4);
        int flipped = 0, rotated = 0, unchanged = 0;
        for (int seed = 0; seed < 400; seed++)
        {
            var sample = generator.Augment(image, label, DataLoaderRandom.Derive(99, seed));
            var resultLabel = new float[16, 16];
            for (int y = 0; y < 16; y++)
            {
                for (int x = 0; x < 16; x++)
                    resultLabel[y, x] = sample.Label[y, x];
            }
            Assert.Equal(Scale(resultLabel, 0.1f), sample.Image);
            bool isRotFlip = rotFlips.Any(c => Same(c, resultLabel));
            bool isRotation = rotations.Any(c => Same(c, resultLabel));
            Assert.True(isRotFlip || isRotation, $"seed {seed}: result is neither a rot90+flip nor a small rotation");
            if (Same(label, resultLabel))
                unchanged++;
            else if (isRotFlip)
                flipped++;
            else
                rotated++;
        }
        // SAMed: rot_flip (always a reflection here) with p 0.5, else rotate with p 0.5 (angle 0 leaves it as is), else nothing.
        Assert.InRange(flipped, 160, 240);
        Assert.InRange(rotated, 60, 140);
        Assert.InRange(unchanged, 60, 140);
    }

    [Fact]
    public void AugmentIsDeterministicForAStream()
    {
        var label = Labels(20, 24);
        var generator = new RandomGenerator(32, 8);
        var a = generator.Augment(Scale(label, 0.1f), label, DataLoaderRandom.Derive(1, 2, 3));
        var b = generator.Augment(Scale(label, 0.1f), label, DataLoaderRandom.Derive(1, 2, 3));
        Assert.Equal(a.Image, b.Image);
        Assert.Equal(a.Label, b.Label);
        Assert.Equal(a.LowResLabel, b.LowResLabel);
    }

    private static bool Same(float[,] a, float[,] b) =>
        a.GetLength(0) == b.GetLength(0) && a.GetLength(1) == b.GetLength(1) && a.Cast<float>().SequenceEqual(b.Cast<float>());

    /// <summary>A colour image: every channel gets exactly the rotation, flip and zoom a grey image would get.</summary>
    [Fact]
    public void ColourChannelsEachGetTheGreyGeometry()
    {
        var label = Labels(20, 24);
        float[][,] planes = [Scale(label, 0.1f), Scale(label, 0.05f), Scale(label, 0.02f)];
        var generator = new RandomGenerator(32, 8);
        for (int seed = 0; seed < 12; seed++)
        {
            var colour = generator.Augment(planes, label, DataLoaderRandom.Derive(5, seed));
            Assert.Equal(3, colour.Planes.Length);
            for (int c = 0; c < 3; c++)
            {
                var grey = generator.Augment(planes[c], label, DataLoaderRandom.Derive(5, seed));
                Assert.Equal(grey.Image, colour.Planes[c]);
                Assert.Equal(grey.Label, colour.Label);
                Assert.Equal(grey.LowResLabel, colour.LowResLabel);
            }
        }
    }

    [Fact]
    public void BatchesRepeatGreyAndKeepColourChannels()
    {
        var label = Labels(8, 8);
        var generator = new RandomGenerator(8, 2);
        var grey = generator.Resize(Scale(label, 0.1f), label, "grey");
        var colour = generator.Resize([Scale(label, 0.1f), Scale(label, 0.2f), Scale(label, 0.3f)], label, "colour");
        using var batch = Batch.FromSamples(0, 0, [grey, colour]);
        Assert.Equal([2L, 3, 8, 8], batch.Image.shape);
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(Scale(label, 0.1f).Cast<float>(), batch.Image[0, c].data<float>().ToArray());
            Assert.Equal(Scale(label, 0.1f * (c + 1)).Cast<float>(), batch.Image[1, c].data<float>().ToArray());
        }
    }

    [Fact]
    public void ImagesOfTwoChannelsAreRefused()
    {
        var label = Labels(8, 8);
        var e = Assert.Throws<ArgumentException>(() => new RandomGenerator(8, 2).Resize([label, label], label));
        Assert.Contains("1 (grey) or 3 (colour) channels", e.Message);
    }
}
