using SAMed.Data;
using SAMed.Inference;
using SAMed.IO;
using SAMed.VolumeTesting;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Inference;

/// <summary>SAMed's per-slice protocol (zoom to input size, to image size, forward, argmax, zoom back) and a tiny model through it.</summary>
public class SamedSliceSegmenterTests
{
    /// <summary>Colour images reach the model as [B, 3, S, S], each channel zoomed as a grey slice; grey ones in the batch repeated.</summary>
    [Fact]
    public void ColourImagesReachTheModelAsThreeChannels()
    {
        var seen = new List<(long[] Shape, float[] Values)>();
        Tensor GreenAboveHalf(Tensor batch)
        {
            seen.Add((batch.shape, batch.data<float>().ToArray()));
            return (batch[.., 1] > 0.5f).to(ScalarType.Int64);
        }

        var segmenter = new SamedSliceSegmenter(GreenAboveHalf, numClasses: 1, inputSize: 16, imageSize: 16);
        var random = new Random(3);
        float[][,] colour = [RandomSlice(random, 20, 24), RandomSlice(random, 20, 24), RandomSlice(random, 20, 24)];
        float[][,] grey = [RandomSlice(random, 16, 16)];
        var labels = segmenter.Segment(new[] { colour, grey });

        var (shape, values) = Assert.Single(seen);
        Assert.Equal([2L, 3, 16, 16], shape);
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(segmenter.ToModelInput(colour[c]).Cast<float>(), values.AsSpan(c * 256, 256).ToArray());
            Assert.Equal(grey[0].Cast<float>(), values.AsSpan((3 + c) * 256, 256).ToArray());
        }
        var green = segmenter.ToModelInput(colour[1]);
        var map = new float[16, 16];
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
                map[y, x] = green[y, x] > 0.5f ? 1 : 0;
        Assert.Equal(Ndimage.ZoomTo(map, 20, 24, 0).Cast<float>().Select(v => (int)v), labels[0].Cast<int>());
    }

    [Fact]
    public void SlicesAreZoomedToInputSizeThenImageSizeAndLabelsBackWithOrderZero()
    {
        var seen = new List<long[]>();
        Tensor Threshold(Tensor batch)
        {
            seen.Add(batch.shape);
            return (batch > 0.5f).to(ScalarType.Int64) + (batch > 0.8f).to(ScalarType.Int64);
        }

        var segmenter = new SamedSliceSegmenter(Threshold, numClasses: 2, inputSize: 16, imageSize: 32);
        var random = new Random(7);
        var slices = new[] { RandomSlice(random, 20, 24), RandomSlice(random, 16, 16), RandomSlice(random, 32, 32) };
        var labels = segmenter.Segment(slices);

        Assert.Equal([new long[] { 3, 32, 32 }], seen);
        for (int i = 0; i < slices.Length; i++)
        {
            var slice = slices[i];
            int h = slice.GetLength(0), w = slice.GetLength(1);
            var model = h == 16 && w == 16 ? slice : Ndimage.ZoomTo(slice, 16, 16, 3);
            model = Ndimage.ZoomTo(model, 32, 32, 3);
            Assert.Equal(model, segmenter.ToModelInput(slice));
            var map = new float[32, 32];
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    map[y, x] = (model[y, x] > 0.5f ? 1 : 0) + (model[y, x] > 0.8f ? 1 : 0);
            var back = h == 32 && w == 32 ? map : Ndimage.ZoomTo(map, h, w, 0);
            Assert.Equal(h, labels[i].GetLength(0));
            Assert.Equal(w, labels[i].GetLength(1));
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    Assert.Equal((int)back[y, x], labels[i][y, x]);
        }
    }

    [Fact]
    public void TinyRandomModelSegmentsASyntheticH5Volume()
    {
        torch.manual_seed(11);
        using var model = SegmentationModel.Load(new ModelLoadOptions { ModelType = "tiny", ImageSize = 32, NumClasses = 3, InputSize = 24 });
        Assert.Equal(0, model.Config.LoraRank);
        Assert.Equal(new float[] { 0, 0, 0 }, model.Config.Model.PixelMean);
        var segmenter = new SamedSliceSegmenter(model);
        Assert.Equal(24, segmenter.InputSize);

        string root = TestFiles.TempDirectory();
        var layout = new SynapseLayout(root);
        Directory.CreateDirectory(layout.TestDir);
        var volume = TestFiles.Volume("case0003", depth: 5);
        long[] shape = [volume.Depth, volume.Height, volume.Width];
        SynapseH5.Write(layout.TestVolumePath(volume.Name), new VolumeArrays(NpyArray.FromFloat32(volume.Image, shape), NpyArray.FromFloat32(volume.Label, shape)));
        SynapseLayout.WriteList(layout.TestListPath, [volume.Name]);

        var tester = new VolumeTester(segmenter, new VolumeTestOptions { NumClasses = 3, BatchSize = 2 });
        var items = VolumeTestSource.FromSynapse(layout);
        var prediction = tester.PredictVolume(items[0].Load(3));
        Assert.Equal(5 * 20 * 24, prediction.Length);
        Assert.All(prediction, p => Assert.InRange(p, (byte)0, (byte)3));

        var report = tester.Run(items);
        var single = Assert.Single(report.Cases);
        Assert.Equal(3, single.Classes.Count);
        Assert.All(single.Classes, m => Assert.True(double.IsFinite(m.Dice) && double.IsFinite(m.Hd95) && m.Dice is >= 0 and <= 1));

        // The batch size does not change the labels.
        var oneByOne = new VolumeTester(segmenter, new VolumeTestOptions { NumClasses = 3, BatchSize = 1 }).PredictVolume(items[0].Load(3));
        Assert.Equal(prediction, oneByOne);
    }

    [Fact]
    public void SegmentBatchRejectsWrongSizes()
    {
        using var model = SegmentationModel.Load(new ModelLoadOptions { ModelType = "tiny", ImageSize = 32, NumClasses = 2 });
        using var wrong = torch.zeros(2, 16, 16);
        Assert.Throws<ArgumentException>(() => model.SegmentBatch(wrong));
    }

    private static float[,] RandomSlice(Random random, int h, int w)
    {
        var slice = new float[h, w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                slice[y, x] = (float)random.NextDouble();
        return slice;
    }
}
