using SAMed.Lora;
using SAMed.Modeling;
using SAMed.Tests.Reference;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Tests.Modeling;

public class ModelComponentTests
{
    [Fact]
    public void WindowPartitionPadsAndUnpartitionRestores()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(2, 8, 7, 5);
        var (windows, padded) = EncoderBlock.WindowPartition(x, 3);
        Assert.Equal((9L, 9L), padded);
        Assert.Equal([2L * 3 * 3, 3, 3, 5], windows.shape);
        // The first window is the top-left 3 x 3 patch; padding is zero.
        Assert.True(windows[0].equal(x[0, ..3, ..3]).all().item<bool>());
        Assert.Equal(0f, windows[2][.., 1.., ..].abs().max().item<float>());
        var back = EncoderBlock.WindowUnpartition(windows, 3, padded, (8, 7));
        Assert.True(back.equal(x).all().item<bool>());
    }

    [Fact]
    public void RelPosIsGatheredByOffsetAndInterpolatedLinearlyWhenTheSizeDiffers()
    {
        using var scope = torch.NewDisposeScope();
        // Exact size: row (i - j) + (k - 1) for query i and key j.
        var relPos = torch.arange(5, dtype: ScalarType.Float32).reshape(5, 1);
        var gathered = EncoderAttention.GetRelPos(3, 3, relPos);
        Assert.Equal([3L, 3, 1], gathered.shape);
        Assert.Equal(new float[] { 2, 1, 0, 3, 2, 1, 4, 3, 2 }, gathered.flatten().data<float>().ToArray());

        // 3 rows for 5 offsets: linear interpolation without aligned corners gives 0, 0.4, 1, 1.6, 2.
        var small = torch.arange(3, dtype: ScalarType.Float32).reshape(3, 1);
        var interpolated = EncoderAttention.GetRelPos(3, 3, small).flatten();
        var expected = torch.tensor(new float[] { 1, 0.4f, 0, 1.6f, 1, 0.4f, 2, 1.6f, 1 });
        Assert.True(interpolated.allclose(expected, rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void PromptEncoderEmbedsPointsBoxesAndMasks()
    {
        using var scope = torch.NewDisposeScope();
        using var encoder = new PromptEncoder(16, (4, 4), (64, 64), 4);
        var coords = torch.tensor(new float[] { 10, 20, 30, 40 }).reshape(1, 2, 2);
        var labels = torch.tensor(new long[] { 1, 0 }).reshape(1, 2);

        var (sparse, dense) = encoder.forward(new PointPrompts(coords, labels), null, null);
        Assert.Equal([1L, 3, 16], sparse.shape);     // two points and the padding point
        var notAPoint = encoder.named_modules().Single(m => m.name == "not_a_point_embed").module;
        Assert.True(sparse[0, 2].allclose(((Embedding)notAPoint).weight![0]));
        Assert.Equal([1L, 16, 4, 4], dense.shape);

        var (boxSparse, _) = encoder.forward(new PointPrompts(coords, labels), torch.tensor(new float[] { 1, 2, 30, 40 }).reshape(1, 4), null);
        Assert.Equal([1L, 4, 16], boxSparse.shape);   // no padding point when a box is given

        var (_, maskDense) = encoder.forward(null, null, torch.randn(2, 1, 16, 16));
        Assert.Equal([2L, 16, 4, 4], maskDense.shape);

        var (noSparse, noDense) = encoder.forward(null, null, null);
        Assert.Equal([1L, 0, 16], noSparse.shape);
        Assert.Equal([1L, 16, 4, 4], noDense.shape);
    }

    [Fact]
    public void ForwardReturnsAllClassMasksForABatch()
    {
        using var scope = torch.NewDisposeScope();
        var config = TestModels.Small(numClasses: 5, windowSize: 3);
        using var model = new LoraSam(new Sam(config), rank: 2);
        var images = torch.rand(3, 3, 64, 64) * 255;
        var output = model.Forward(images, multimaskOutput: true, imageSize: 64);
        Assert.Equal([3L, 6, 64, 64], output.masks.shape);
        Assert.Equal([3L, 6], output.iou_predictions.shape);
        Assert.Equal([3L, 6, 16, 16], output.low_res_logits.shape);

        // Each image's outputs depend on that image alone.
        var single = model.Forward(images[1..2], multimaskOutput: true, imageSize: 64);
        Assert.Equal([1L, 6, 64, 64], single.masks.shape);
        Assert.True(single.low_res_logits.allclose(output.low_res_logits[1..2], rtol: 1e-4, atol: 1e-5));
        Assert.True(single.iou_predictions.allclose(output.iou_predictions[1..2], rtol: 1e-4, atol: 1e-5));

        Assert.Throws<InvalidOperationException>(() => new LoraSam(model.Sam, rank: 2));
        Assert.Throws<ArgumentException>(() => model.Forward(torch.rand(1, 3, 80, 80), true, 80));
    }

    [Fact]
    public void TrainingForwardGivesTheSameLogitsWithoutUpsampledMasks()
    {
        using var scope = torch.NewDisposeScope();
        using var model = new LoraSam(new Sam(TestModels.Small(numClasses: 3, windowSize: 3)), rank: 2);
        var images = torch.rand(2, 3, 64, 64) * 255;
        var full = model.Forward(images, multimaskOutput: true, imageSize: 64);
        var (lowRes, iou) = model.ForwardLowRes(images, multimaskOutput: true);
        Assert.True(lowRes.equal(full.low_res_logits).all().item<bool>());
        Assert.True(iou.equal(full.iou_predictions).all().item<bool>());
        Assert.Throws<ArgumentException>(() => model.ForwardLowRes(torch.rand(1, 3, 80, 80), true));
    }

    [Fact]
    public void PostprocessingToTheInputSizeIsOneUpsampling()
    {
        using var scope = torch.NewDisposeScope();
        using var sam = new Sam(TestModels.Small(numClasses: 3, windowSize: 3));
        var logits = torch.randn(2, 4, 16, 16);
        var masks = sam.PostprocessMasks(logits, (64, 64), (64, 64));
        // SAM's postprocess_masks: upsample to the input size, crop (nothing here), resize to the original size.
        var upsampled = nn.functional.interpolate(logits, size: [64, 64], mode: InterpolationMode.Bilinear, align_corners: false);
        var resized = nn.functional.interpolate(upsampled, size: [64, 64], mode: InterpolationMode.Bilinear, align_corners: false);
        Assert.True(masks.equal(resized).all().item<bool>());
        // Cropped and resized otherwise; cropped only when the original size is the input size.
        Assert.Equal([2L, 4, 30, 20], sam.PostprocessMasks(logits, (48, 40), (30, 20)).shape);
        var cropped = nn.functional.interpolate(upsampled[.., .., ..48, ..40], size: [48, 40], mode: InterpolationMode.Bilinear, align_corners: false);
        Assert.True(sam.PostprocessMasks(logits, (48, 40), (48, 40)).equal(cropped).all().item<bool>());
    }
}
