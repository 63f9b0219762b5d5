using SAMed.Checkpoints;
using SAMed.Modeling;
using SAMed.Tests.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Modeling;

public sealed class PromptableSamTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("samed-prompt-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Theory]
    [InlineData(256, 192, 128, 128, 96)]
    [InlineData(160, 240, 128, 85, 128)]
    [InlineData(512, 512, 1024, 1024, 1024)]
    [InlineData(333, 100, 1024, 1024, 308)]
    public void PreprocessShapeRoundsAsSegmentAnything(int h, int w, int target, int newH, int newW) =>
        Assert.Equal((newH, newW), ResizeLongestSide.PreprocessShape(h, w, target));

    [Fact]
    public void CoordinatesScaleByTheResizedSides()
    {
        var resize = new ResizeLongestSide(128);
        Assert.Equal((50.0 * 128 / 240, 80.0 * 85 / 160), resize.ApplyCoords(50, 80, (160, 240)));
        var box = resize.ApplyBox((10, 20, 30, 40), (256, 192));
        Assert.Equal((5.0, 10.0, 15.0, 20.0), box);
    }

    [Fact]
    public void MultimaskReturnsMasksOneToThreeAndSingleMaskZero()
    {
        using var scope = torch.NewDisposeScope();
        var masks = torch.arange(4).reshape(1, 4, 1, 1).to_type(ScalarType.Float32);
        var iou = torch.arange(4).reshape(1, 4).to_type(ScalarType.Float32);
        var (multi, multiIou) = PromptableSam.SelectOutputs(masks, iou, multimaskOutput: true);
        var (single, singleIou) = PromptableSam.SelectOutputs(masks, iou, multimaskOutput: false);
        Assert.Equal(new float[] { 1, 2, 3 }, multi.flatten().data<float>().ToArray());
        Assert.Equal(new float[] { 1, 2, 3 }, multiIou.flatten().data<float>().ToArray());
        Assert.Equal(new float[] { 0 }, single.flatten().data<float>().ToArray());
        Assert.Equal(new float[] { 0 }, singleIou.flatten().data<float>().ToArray());
    }

    [Fact]
    public void CompleteLoadKeepsTheDecoderHeadsAtAnotherInputSize()
    {
        using var scope = torch.NewDisposeScope();
        var config = TestModels.Small(numClasses: 3);
        using var source = new Sam(config);
        string path = Path.Combine(_temp, "sam.pth");
        PthStateDict.Write(path, ModuleStateDict.Ordered(source));
        using var target = new Sam(config with { ImageSize = 32 });
        SamCheckpoint.LoadComplete(target, path);
        var want = source.state_dict();
        foreach (var (key, value) in target.state_dict())
        {
            if (!key.Contains("pos_embed") && !key.Contains("rel_pos"))
                Assert.True(value.shape.SequenceEqual(want[key].shape) && value.eq(want[key]).all().item<bool>(), key);
        }
    }

    [Fact]
    public void CompleteLoadRejectsACheckpointWithoutTheIouHead()
    {
        using var scope = torch.NewDisposeScope();
        var config = TestModels.Small(numClasses: 3);
        using var source = new Sam(config);
        string path = Path.Combine(_temp, "no_iou.pth");
        PthStateDict.Write(path, ModuleStateDict.Ordered(source).Where(kv => !kv.Key.Contains("iou_prediction_head")));
        using var target = new Sam(config);
        var error = Assert.Throws<InvalidDataException>(() => SamCheckpoint.LoadComplete(target, path));
        Assert.Contains("no IoU head", error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void CompleteLoadRejectsAModelWithAnotherNumberOfMaskTokens()
    {
        using var scope = torch.NewDisposeScope();
        using var source = new Sam(TestModels.Small(numClasses: 3));
        string path = Path.Combine(_temp, "sam.pth");
        PthStateDict.Write(path, ModuleStateDict.Ordered(source));
        using var target = new Sam(TestModels.Small(numClasses: 8) with { ImageSize = 32 });
        var error = Assert.Throws<InvalidDataException>(() => SamCheckpoint.LoadComplete(target, path));
        Assert.Contains("mask_tokens", error.Message);
    }
}
