using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SAMed.Training;

/// <summary>The loss values of one promptable step; the BCE is the logs' cross-entropy column (train_log.csv's loss_ce).</summary>
public sealed record PromptableLosses(double Loss, double Bce, double Dice, double Iou) : StepLosses(Loss, Bce, Dice)
{
    /// <summary>A step without a labelled class: no loss, no optimizer step.</summary>
    public static PromptableLosses None { get; } = new(0, 0, 0, 0);

    public override IEnumerable<(string Tag, double Value)> BoardScalars() =>
        [("info/loss_bce", Bce), ("info/loss_dice", Dice), ("info/loss_iou", Iou)];
}

/// <summary>
/// MedSAM's segmentation loss (train_one_gpu.py: monai DiceLoss(sigmoid=True, squared_pred=True, reduction="mean")
/// + BCEWithLogitsLoss) per sample and mask, and SAM's IoU-head loss (mean-squared error towards the IoU of the
/// thresholded mask with the target).
/// </summary>
public static class PromptableLoss
{
    /// <summary>monai's smooth_nr = smooth_dr = 1e-5.</summary>
    public const double Smooth = 1e-5;

    /// <summary>
    /// Dice + BCE of logits [N, M, h, w] against binary targets [N, 1, h, w], per sample and mask: [N, M].
    /// Dice = 1 - (2 sum(p t) + s) / (sum(p^2) + sum(t^2) + s), p = sigmoid(logits); BCE is the mean over pixels.
    /// </summary>
    public static Tensor PerMask(Tensor logits, Tensor target, out Tensor dice, out Tensor bce)
    {
        using var scope = torch.NewDisposeScope();
        var t = target.to_type(logits.dtype).expand_as(logits);
        var p = torch.sigmoid(logits);
        long[] pixels = [2, 3];
        var intersection = (p * t).sum(pixels);
        var denominator = p.square().sum(pixels) + t.square().sum(pixels);
        var d = 1 - (2 * intersection + Smooth) / (denominator + Smooth);
        var b = F.binary_cross_entropy_with_logits(logits, t, reduction: nn.Reduction.None).mean(pixels);
        dice = d.MoveToOuterDisposeScope();
        bce = b.MoveToOuterDisposeScope();
        return (d + b).MoveToOuterDisposeScope();
    }

    /// <summary>IoU of (logits &gt; 0) with the target per sample and mask, [N, M], without gradient (empty union: 1).</summary>
    public static Tensor ActualIou(Tensor logits, Tensor target)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var predicted = logits.detach().gt(0);
        var t = target.to_type(ScalarType.Bool).expand_as(predicted);
        long[] pixels = [2, 3];
        var intersection = predicted.logical_and(t).sum(pixels).to_type(ScalarType.Float32);
        var union = predicted.logical_or(t).sum(pixels).to_type(ScalarType.Float32);
        var iou = torch.where(union > 0, intersection / union.clamp_min(1), torch.ones_like(union));
        return iou.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One prompt group's terms: the segmentation loss of each sample [N] (the best of its masks when there are three,
    /// SAM's practice for ambiguous prompts) with its Dice and BCE, and the IoU head's squared errors over every
    /// predicted mask [N * M]. The step's loss is mean(segmentation) + mean(squared errors) over all groups.
    /// </summary>
    public static (Tensor Segmentation, Tensor Dice, Tensor Bce, Tensor IouSquaredError) PerSample(Tensor logits, Tensor iouPredictions, Tensor target)
    {
        using var scope = torch.NewDisposeScope();
        var perMask = PerMask(logits, target, out var dice, out var bce);
        var best = perMask.argmin(1, keepdim: true);
        var squared = (iouPredictions - ActualIou(logits, target)).square().flatten();
        return (perMask.gather(1, best).squeeze(1).MoveToOuterDisposeScope(), dice.gather(1, best).squeeze(1).detach().MoveToOuterDisposeScope(),
            bce.gather(1, best).squeeze(1).detach().MoveToOuterDisposeScope(), squared.MoveToOuterDisposeScope());
    }
}
