using SAMed.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Training;

public class SamedLossTests
{
    [Fact]
    public void MatchesSamedDiceLossWrittenOutPerClass()
    {
        torch.manual_seed(3);
        using var logits = torch.randn(2, 4, 5, 6, dtype: ScalarType.Float64);
        using var labels = torch.randint(0, 4, [2, 5, 6], dtype: ScalarType.Int64);
        var parts = new SamedLoss(4, 0.8).Compute(logits, labels);

        var p = logits.softmax(1).data<double>().ToArray();
        var t = labels.data<long>().ToArray();
        double dice = 0;
        for (int c = 0; c < 4; c++)
        {
            double intersect = 0, z = 0, y = 0;
            for (int b = 0; b < 2; b++)
            {
                for (int i = 0; i < 30; i++)
                {
                    double pv = p[(b * 4 + c) * 30 + i];
                    double tv = t[b * 30 + i] == c ? 1 : 0;
                    intersect += pv * tv;
                    z += pv * pv;
                    y += tv * tv;
                }
            }
            dice += 1 - (2 * intersect + 1e-5) / (z + y + 1e-5);
        }
        dice /= 4;

        double ce = 0;
        var logp = logits.log_softmax(1).data<double>().ToArray();
        for (int b = 0; b < 2; b++)
        {
            for (int i = 0; i < 30; i++)
                ce -= logp[(b * 4 + (int)t[b * 30 + i]) * 30 + i];
        }
        ce /= 60;

        Assert.Equal(dice, parts.Dice.item<double>(), 12);
        Assert.Equal(ce, parts.CrossEntropy.item<double>(), 12);
        Assert.Equal(0.2 * ce + 0.8 * dice, parts.Loss.item<double>(), 12);
    }

    [Fact]
    public void RejectsLabelsOfTheWrongShape()
    {
        using var logits = torch.zeros(1, 3, 4, 4);
        using var labels = torch.zeros([1, 8, 8], ScalarType.Int64);
        var e = Assert.Throws<ArgumentException>(() => new SamedLoss(3, 0.8).Compute(logits, labels));
        Assert.Contains("low_res_label", e.Message);
    }
}
