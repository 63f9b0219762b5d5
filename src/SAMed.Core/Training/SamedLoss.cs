using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Training;

/// <summary>The three numbers SAMed logs for a step: loss = (1 - dice_weight) * CE + dice_weight * Dice.</summary>
public sealed record LossParts(Tensor Loss, Tensor CrossEntropy, Tensor Dice) : IDisposable
{
    public void Dispose()
    {
        Loss.Dispose();
        CrossEntropy.Dispose();
        Dice.Dispose();
    }
}

/// <summary>
/// SAMed's calc_loss on low_res_logits [B, C, h, w] and low_res_label [B, h, w] (C = num_classes + 1):
/// CrossEntropyLoss (mean over pixels) and utils.DiceLoss(C) with softmax, which per class c computes
/// 1 - (2 * sum(p_c * t_c) + 1e-5) / (sum(p_c * p_c) + sum(t_c * t_c) + 1e-5) over the whole batch and averages the classes.
/// </summary>
public sealed class SamedLoss(int classCount, double diceWeight)
{
    public const double Smooth = 1e-5;

    public int ClassCount { get; } = classCount;
    public double DiceWeight { get; } = diceWeight;

    public LossParts Compute(Tensor logits, Tensor labels)
    {
        CheckShapes(logits, labels);
        using var scope = NewDisposeScope();
        var target = labels.to_type(ScalarType.Int64);
        var crossEntropy = nn.functional.cross_entropy(logits, target);
        var dice = DiceLoss(PerClassSums(logits, target));
        var loss = (1 - DiceWeight) * crossEntropy + DiceWeight * dice;
        scope.MoveToOuter(loss, crossEntropy, dice);
        return new LossParts(loss, crossEntropy, dice);
    }

    /// <summary>Per class [C]: sum(p*t), sum(p*p), sum(t*t) over batch and pixels, with p = softmax(logits).</summary>
    public DiceSums PerClassSums(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var probabilities = logits.softmax(1);
        var target = nn.functional.one_hot(labels.to_type(ScalarType.Int64), ClassCount).permute(0, 3, 1, 2).to_type(probabilities.dtype);
        long[] dims = [0, 2, 3];
        var intersect = (probabilities * target).sum(dims);
        var predicted = (probabilities * probabilities).sum(dims);
        var truth = (target * target).sum(dims);
        scope.MoveToOuter(intersect, predicted, truth);
        return new DiceSums(intersect, predicted, truth);
    }

    /// <summary>mean over classes of 1 - (2I + smooth) / (Z + Y + smooth).</summary>
    public static Tensor DiceLoss(DiceSums sums)
    {
        using var scope = NewDisposeScope();
        var perClass = 1 - (2 * sums.Intersect + Smooth) / (sums.Predicted + sums.Truth + Smooth);
        return scope.MoveToOuter(perClass.mean());
    }

    private void CheckShapes(Tensor logits, Tensor labels)
    {
        if (logits.ndim != 4 || logits.shape[1] != ClassCount)
            throw new ArgumentException($"low_res_logits must be [B, {ClassCount}, h, w], got [{string.Join(", ", logits.shape)}]");
        if (labels.ndim != 3 || labels.shape[0] != logits.shape[0] || labels.shape[1] != logits.shape[2] || labels.shape[2] != logits.shape[3])
            throw new ArgumentException($"low_res_label must be [{logits.shape[0]}, {logits.shape[2]}, {logits.shape[3]}], got [{string.Join(", ", labels.shape)}]");
    }
}

/// <summary>Dice's per-class sums [C]; they add over micro-batches, which makes exact gradient accumulation possible.</summary>
public sealed record DiceSums(Tensor Intersect, Tensor Predicted, Tensor Truth) : IDisposable
{
    public DiceSums Add(DiceSums other) => new(Intersect + other.Intersect, Predicted + other.Predicted, Truth + other.Truth);

    public void Dispose()
    {
        Intersect.Dispose();
        Predicted.Dispose();
        Truth.Dispose();
    }
}
