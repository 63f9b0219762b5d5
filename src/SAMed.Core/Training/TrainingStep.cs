using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Training;

/// <summary>The loss values of one optimizer step (those of the whole batch, also under accumulation).</summary>
public sealed record StepLosses(double Loss, double CrossEntropy, double Dice);

/// <summary>
/// One SAMed optimizer step: zero_grad, forward, loss, backward, optimizer.step (trainer.py's order).
/// <para>
/// With <c>accumulationSteps</c> &gt; 1 the batch is split into equal micro-batches and the step's gradient is still
/// exactly that of the whole batch: SAMed's Dice is computed from per-class sums over the whole batch, so it does
/// not split into a mean of micro-batch Dice losses. A first pass without autograd collects the batch's Dice sums;
/// the gradient of the Dice with respect to those sums then weights each micro-batch's own sums in a second pass
/// with autograd (CE is a mean over equal micro-batches and is scaled by 1/accumulation). The result changes only
/// memory (and costs one extra forward without autograd per micro-batch).
/// </para>
/// </summary>
public sealed class TrainingStep(Func<Tensor, Tensor> lowResLogits, SamedLoss loss, optim.Optimizer optimizer, int accumulationSteps = 1)
{
    public int AccumulationSteps { get; } = accumulationSteps >= 1 ? accumulationSteps : throw new ArgumentOutOfRangeException(nameof(accumulationSteps));

    /// <summary>Runs forward and backward only (gradients are left in the parameters); returns the batch's losses.</summary>
    public StepLosses Backward(Tensor images, Tensor lowResLabels)
    {
        long batch = images.shape[0];
        if (batch % AccumulationSteps != 0)
            throw new ArgumentException($"batch of {batch} does not split into {AccumulationSteps} equal micro-batches");
        if (AccumulationSteps == 1)
        {
            using var scope = NewDisposeScope();
            using var parts = loss.Compute(lowResLogits(images), lowResLabels);
            parts.Loss.backward();
            return new StepLosses(parts.Loss.ToDouble(), parts.CrossEntropy.ToDouble(), parts.Dice.ToDouble());
        }
        return AccumulatedBackward(images, lowResLabels);
    }

    /// <summary>zero_grad, backward, optimizer.step.</summary>
    public StepLosses Run(Tensor images, Tensor lowResLabels)
    {
        optimizer.zero_grad();
        var losses = Backward(images, lowResLabels);
        optimizer.step();
        return losses;
    }

    private StepLosses AccumulatedBackward(Tensor images, Tensor lowResLabels)
    {
        using var scope = NewDisposeScope();
        long micro = images.shape[0] / AccumulationSteps;
        var imageParts = images.split(micro);
        var labelParts = lowResLabels.split(micro);

        DiceSums? total = null;
        double crossEntropy = 0;
        using (no_grad())
        {
            for (int m = 0; m < AccumulationSteps; m++)
            {
                var logits = lowResLogits(imageParts[m]);
                var sums = loss.PerClassSums(logits, labelParts[m]);
                total = total is null ? sums : total.Add(sums);
                crossEntropy += nn.functional.cross_entropy(logits, labelParts[m].to_type(ScalarType.Int64)).ToDouble();
            }
        }
        crossEntropy /= AccumulationSteps;

        // d Dice / d (batch sums): the weights of each micro-batch's sums in the surrogate loss.
        var intersect = total!.Intersect.detach().requires_grad_(true);
        var predicted = total.Predicted.detach().requires_grad_(true);
        var dice = SamedLoss.DiceLoss(new DiceSums(intersect, predicted, total.Truth.detach()));
        dice.backward();
        var intersectWeight = intersect.grad!.detach().clone();
        var predictedWeight = predicted.grad!.detach().clone();

        for (int m = 0; m < AccumulationSteps; m++)
        {
            using var microScope = NewDisposeScope();
            var logits = lowResLogits(imageParts[m]);
            var sums = loss.PerClassSums(logits, labelParts[m]);
            var ce = nn.functional.cross_entropy(logits, labelParts[m].to_type(ScalarType.Int64));
            var surrogate = (1 - loss.DiceWeight) * ce / AccumulationSteps
                + loss.DiceWeight * ((intersectWeight * sums.Intersect).sum() + (predictedWeight * sums.Predicted).sum());
            surrogate.backward();
        }

        double ceValue = crossEntropy;
        double diceValue = dice.ToDouble();
        double lossValue = (1 - loss.DiceWeight) * ceValue + loss.DiceWeight * diceValue;
        return new StepLosses(lossValue, ceValue, diceValue);
    }
}
