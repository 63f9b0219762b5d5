using static TorchSharp.torch;

namespace SAMed.Training.Parallel;

/// <summary>
/// One SAMed optimizer step over the devices of a <see cref="DataParallel"/>, as trainer.py steps its
/// nn.DataParallel model: zero_grad, the replicas' forwards on the batch's chunks gathered on the first device, the
/// loss of the whole batch there (SAMed's Dice sums over the whole batch, not per device), backward, and one
/// optimizer.step on the first device's tensors, which the next step's broadcast hands to every replica.
/// <para>
/// With <c>accumulationSteps</c> &gt; 1 the batch is first cut into micro-batches exactly as <see cref="TrainingStep"/>
/// cuts it, and each micro-batch is scattered over the devices; the replicas' gradients build up over the
/// micro-batches and are added into the first device's once, after the last backward.
/// </para>
/// </summary>
public sealed class DataParallelStep : IOptimizerStep
{
    private readonly DataParallel parallel;
    private readonly SamedOptimizer optimizer;
    private readonly TrainingStep step;

    /// <param name="observe">Sees each forward's images and gathered logits and returns the logits (the trainer's previews).</param>
    public DataParallelStep(DataParallel parallel, SamedLoss loss, SamedOptimizer optimizer, int accumulationSteps = 1, Func<Tensor, Tensor, Tensor>? observe = null)
    {
        this.parallel = parallel;
        this.optimizer = optimizer;
        step = new TrainingStep(observe is null ? parallel.Forward : images => observe(images, parallel.Forward(images)), loss, optimizer, accumulationSteps);
    }

    /// <summary>Broadcast, forward and backward only: the whole batch's gradient is left in the first device's tensors.</summary>
    public StepLosses Backward(Tensor images, Tensor lowResLabels)
    {
        parallel.Broadcast();
        var losses = step.Backward(images, lowResLabels);
        parallel.ReduceGradients();
        return losses;
    }

    public StepLosses Run(Tensor images, Tensor lowResLabels)
    {
        optimizer.ZeroGrad();
        var losses = Backward(images, lowResLabels);
        optimizer.Step();
        return losses;
    }
}
