using SAMed.Data;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Training;

/// <summary>The loss values of one optimizer step (those of the whole batch, also under accumulation).</summary>
public record StepLosses(double Loss, double CrossEntropy, double Dice)
{
    /// <summary>The TensorBoard scalars of the loss's terms (trainer.py's info/loss_ce and info/loss_dice).</summary>
    public virtual IEnumerable<(string Tag, double Value)> BoardScalars() => [("info/loss_ce", CrossEntropy), ("info/loss_dice", Dice)];
}

/// <summary>One optimizer step on a batch: on one device (<see cref="TrainingStep"/>) or several (<see cref="Parallel.DataParallelStep"/>).</summary>
public interface IOptimizerStep
{
    /// <summary>zero_grad, forward, loss, backward, optimizer.step; returns the batch's losses.</summary>
    StepLosses Run(Tensor images, Tensor lowResLabels);
}

/// <summary>
/// The training loop's step on a loader batch, the run's <c>iteration</c>-th (0-based): the semantic mode's
/// <see cref="IOptimizerStep"/> on the batch's images and low-res labels (<see cref="SemanticBatchStep"/>), or the
/// promptable mode's <see cref="PromptableStep"/>, whose prompts depend on the iteration.
/// </summary>
public interface IBatchStep
{
    StepLosses Run(Batch batch, long iteration);
}

/// <summary>SAMed's step on a loader batch: its images and low-res labels, moved to the device, through <paramref name="step"/>.</summary>
public sealed class SemanticBatchStep(IOptimizerStep step, Device device) : IBatchStep
{
    public StepLosses Run(Batch batch, long iteration) => step.Run(batch.Image.to(device), batch.LowResLabel.to(device));
}

/// <summary>
/// One SAMed optimizer step: zero_grad, forward, loss, backward, optimizer.step (trainer.py's order).
/// <para>
/// With <c>accumulationSteps</c> &gt; 1 the batch is split into micro-batches of ceil(B / steps) samples (the last
/// possibly smaller) and the step's gradient is still exactly that of the whole batch. SAMed's Dice is computed from
/// per-class sums over the whole batch, so it is not a mean of micro-batch Dice losses: a first pass without
/// autograd collects the batch's Dice sums; the gradient of the Dice with respect to those sums then weights each
/// micro-batch's own sums in a second pass with autograd, where each micro-batch's CE mean is weighted by its share
/// of the batch (1/accumulation for equal parts). Only memory changes (at the cost of one extra forward without
/// autograd per micro-batch).
/// </para>
/// </summary>
public sealed class TrainingStep(Func<Tensor, Tensor> lowResLogits, SamedLoss loss, SamedOptimizer optimizer, int accumulationSteps = 1) : IOptimizerStep
{
    public int AccumulationSteps { get; } = accumulationSteps >= 1 ? accumulationSteps : throw new ArgumentOutOfRangeException(nameof(accumulationSteps));

    /// <summary>Runs forward and backward only (gradients are left in the parameters); returns the batch's losses.</summary>
    public StepLosses Backward(Tensor images, Tensor lowResLabels)
    {
        if (AccumulationSteps == 1 || images.shape[0] == 1)
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
        optimizer.ZeroGrad();
        var losses = Backward(images, lowResLabels);
        optimizer.Step();
        return losses;
    }

    private StepLosses AccumulatedBackward(Tensor images, Tensor lowResLabels)
    {
        using var scope = NewDisposeScope();
        long batch = images.shape[0];
        long micro = (batch + AccumulationSteps - 1) / AccumulationSteps;
        var imageParts = images.split(micro);
        var labelParts = lowResLabels.split(micro);
        int parts = imageParts.Length;

        DiceSums? total = null;
        double crossEntropy = 0;
        using (no_grad())
        {
            for (int m = 0; m < parts; m++)
            {
                var logits = lowResLogits(imageParts[m]);
                var sums = loss.PerClassSums(logits, labelParts[m]);
                total = total is null ? sums : total.Add(sums);
                crossEntropy += Share(imageParts[m], batch) * nn.functional.cross_entropy(logits, labelParts[m].to_type(ScalarType.Int64)).ToDouble();
            }
        }

        // d Dice / d (batch sums): the weights of each micro-batch's sums in the surrogate loss.
        var intersect = total!.Intersect.detach().requires_grad_(true);
        var predicted = total.Predicted.detach().requires_grad_(true);
        var dice = SamedLoss.DiceLoss(new DiceSums(intersect, predicted, total.Truth.detach()));
        dice.backward();
        var intersectWeight = intersect.grad!.detach().clone();
        var predictedWeight = predicted.grad!.detach().clone();

        for (int m = 0; m < parts; m++)
        {
            using var microScope = NewDisposeScope();
            var logits = lowResLogits(imageParts[m]);
            var sums = loss.PerClassSums(logits, labelParts[m]);
            var ce = nn.functional.cross_entropy(logits, labelParts[m].to_type(ScalarType.Int64));
            var diceSurrogate = (intersectWeight * sums.Intersect).sum() + (predictedWeight * sums.Predicted).sum();
            var surrogate = ScalarMath.Times(ce, (1 - loss.DiceWeight) * Share(imageParts[m], batch)) + ScalarMath.Times(diceSurrogate, loss.DiceWeight);
            surrogate.backward();
        }

        double ceValue = crossEntropy;
        double diceValue = dice.ToDouble();
        double lossValue = (1 - loss.DiceWeight) * ceValue + loss.DiceWeight * diceValue;
        return new StepLosses(lossValue, ceValue, diceValue);
    }

    /// <summary>A micro-batch's share of the batch: CE is a mean over pixels, and every sample has as many.</summary>
    private static double Share(Tensor part, long batch) => part.shape[0] / (double)batch;
}
