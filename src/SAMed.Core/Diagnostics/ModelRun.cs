using SAMed.Adaptation;
using SAMed.TorchInterop;
using SAMed.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Diagnostics;

/// <summary>SAMed's training recipe for a few steps on one batch: loss weights, AdamW and the learning-rate schedule.</summary>
public sealed record StepRecipe(double DiceWeight, double BaseLr, double Beta1, double Beta2, double Eps, double WeightDecay, int WarmupPeriod, int MaxIterations, int Steps)
{
    /// <summary>A reference case's recipe (case.json "training").</summary>
    public static StepRecipe Of(ParityTraining training) => new(training.DiceWeight, training.BaseLr, training.Beta1, training.Beta2,
        training.Eps, training.WeightDecay, training.WarmupPeriod, training.MaxIterations, training.Steps.Count);

    public LearningRateSchedule Schedule => new(BaseLr, Warmup: true, WarmupPeriod, MaxIterations);
}

/// <summary>
/// What a model computed on one batch, copied to the CPU: the forward pass (no autograd), the first training step's
/// losses and gradients, and the trainable tensors after <see cref="StepRecipe.Steps"/> AdamW steps on the same batch.
/// </summary>
public sealed class ModelRun : IDisposable
{
    private ModelRun(Dictionary<string, Tensor> forward, StepLosses losses, Dictionary<string, Tensor?> gradients, Dictionary<string, Tensor> after)
    {
        Forward = forward;
        FirstLosses = losses;
        Gradients = gradients;
        After = after;
    }

    /// <summary>image_embeddings, dense_pe, dense_embeddings, low_res_logits, masks, iou_predictions.</summary>
    public IReadOnlyDictionary<string, Tensor> Forward { get; }

    public StepLosses FirstLosses { get; }

    /// <summary>Every trainable tensor's gradient after the first backward, under its checkpoint name (null: none reached it).</summary>
    public IReadOnlyDictionary<string, Tensor?> Gradients { get; }

    /// <summary>Every trainable tensor after the steps.</summary>
    public IReadOnlyDictionary<string, Tensor> After { get; }

    /// <summary>
    /// Runs the model (on whatever device it is; <paramref name="input"/> and <paramref name="labels"/> are moved
    /// there): the forward under no_grad, then the recipe's steps, each in its own dispose scope and GC pause.
    /// </summary>
    public static ModelRun Execute(AdaptedSam model, Tensor input, Tensor labels, StepRecipe recipe, int imageSize)
    {
        var device = model.parameters().First().device;
        using var inputs = NewDisposeScope();
        var images = input.to(device);
        var target = labels.to(device);
        var forward = RunForward(model, images, imageSize);

        var trainable = model.TrainableParameters().ToList();
        var schedule = recipe.Schedule;
        using var optimizer = new AdamWOptimizer(trainable.Select(t => t.p), schedule.Initial, recipe.Beta1, recipe.Beta2, recipe.Eps, recipe.WeightDecay);
        var step = new TrainingStep(x => model.ForwardLowRes(x, multimaskOutput: true).LowResLogits, new SamedLoss(model.Sam.Config.NumClasses + 1, recipe.DiceWeight), optimizer);
        StepLosses? first = null;
        var gradients = new Dictionary<string, Tensor?>();
        model.train();
        for (int it = 0; it < recipe.Steps; it++)
        {
            using (GcPause.Begin())
            using (NewDisposeScope())
            {
                optimizer.ZeroGrad();
                var losses = step.Backward(images, target);
                if (it == 0)
                {
                    first = losses;
                    foreach (var (name, parameter) in trainable)
                        gradients[name] = parameter.grad is { } grad ? CpuCopy(grad) : null;
                }
                optimizer.Step();
                optimizer.LearningRate = schedule.AfterStep(it);
            }
            TorchDevices.Synchronize(device);
        }
        var after = trainable.ToDictionary(t => t.name, t => CpuCopy(t.p));
        return new ModelRun(forward, first ?? throw new ArgumentException("the recipe has no steps", nameof(recipe)), gradients, after);
    }

    private static Dictionary<string, Tensor> RunForward(AdaptedSam model, Tensor images, int imageSize)
    {
        using var pause = GcPause.Begin();
        using var noGrad = torch.no_grad();
        using var scope = NewDisposeScope();
        using var trace = model.ForwardTrace(images, multimaskOutput: true, imageSize);
        return new Dictionary<string, Tensor>
        {
            ["image_embeddings"] = CpuCopy(trace.image_embeddings),
            ["dense_pe"] = CpuCopy(trace.dense_pe),
            ["dense_embeddings"] = CpuCopy(trace.dense_embeddings),
            ["low_res_logits"] = CpuCopy(trace.Output.low_res_logits),
            ["masks"] = CpuCopy(trace.Output.masks),
            ["iou_predictions"] = CpuCopy(trace.Output.iou_predictions),
        };
    }

    private static Tensor CpuCopy(Tensor tensor) => tensor.detach().cpu().to_type(ScalarType.Float32).clone().DetachFromDisposeScope();

    public void Dispose()
    {
        foreach (var tensor in Forward.Values.Concat(After.Values).Concat(Gradients.Values.OfType<Tensor>()))
            tensor.Dispose();
    }
}
