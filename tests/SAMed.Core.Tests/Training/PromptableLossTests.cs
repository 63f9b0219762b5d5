using SAMed.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Training;

public class PromptableLossTests
{
    [Fact]
    public void DiceHasSquaredDenominatorsAndBceIsThePixelMean()
    {
        using var scope = torch.NewDisposeScope();
        var logits = torch.tensor(new float[] { 2f, -1f, 0.5f, -3f }, [1, 1, 2, 2]);
        var target = torch.tensor(new float[] { 1f, 0f, 1f, 1f }, [1, 1, 2, 2]);
        PromptableLoss.PerMask(logits, target, out var dice, out var bce);

        double[] z = [2, -1, 0.5, -3], t = [1, 0, 1, 1];
        var p = z.Select(v => 1 / (1 + Math.Exp(-v))).ToArray();
        double intersection = p.Zip(t, (a, b) => a * b).Sum();
        double want = 1 - (2 * intersection + 1e-5) / (p.Sum(v => v * v) + t.Sum(v => v * v) + 1e-5);
        double wantBce = z.Zip(t, (v, y) => Math.Max(v, 0) - v * y + Math.Log(1 + Math.Exp(-Math.Abs(v)))).Average();
        Assert.Equal(want, dice.item<float>(), 5);
        Assert.Equal(wantBce, bce.item<float>(), 5);
    }

    [Fact]
    public void ThreeMasksScoreTheBestAndTheIouHeadLearnsTheRealIou()
    {
        using var scope = torch.NewDisposeScope();
        var target = torch.tensor(new float[] { 1f, 1f, 0f, 0f }, [1, 1, 2, 2]);
        // Mask 0 wrong everywhere, mask 1 right, mask 2 half right.
        var logits = torch.tensor(new float[] { -5, -5, 5, 5, 5, 5, -5, -5, 5, -5, -5, -5 }, [1, 3, 2, 2]);
        var iouPredictions = torch.tensor(new float[] { 0f, 1f, 0.5f }, [1, 3]);
        var (segmentation, _, _, squared) = PromptableLoss.PerSample(logits, iouPredictions, target);
        PromptableLoss.PerMask(logits, target, out var dice, out var bce);
        Assert.Equal((dice + bce)[0, 1].item<float>(), segmentation[0].item<float>(), 6);
        Assert.Equal(new float[] { 0f, 1f, 0.5f }, PromptableLoss.ActualIou(logits, target).flatten().data<float>().ToArray());
        Assert.Equal(new float[] { 0f, 0f, 0f }, squared.data<float>().ToArray());
    }
}
