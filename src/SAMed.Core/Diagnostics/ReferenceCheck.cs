using SAMed.Checkpoints;
using SAMed.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Diagnostics;

/// <summary>
/// A reference case's model on a device against the numbers SAMed's PyTorch code computed: the forward pass, the
/// first step's losses and gradients, and the trainable tensors after the case's AdamW steps, each at the tolerance
/// case.json states (what the Parity tests check, as a report instead of assertions).
/// </summary>
public static class ReferenceCheck
{
    public static IReadOnlyList<CheckGroup> Run(ParityCase reference, Device device)
    {
        var training = reference.Training ?? throw new InvalidDataException($"{reference.Directory}: case.json has no training section");
        using var scope = torch.NewDisposeScope();
        using var model = reference.CreateModel(device);
        long trainableCount = model.TrainableParameterCount();
        using var run = ModelRun.Execute(model, reference.Tensor("input"), reference.Tensor("low_res_label"), StepRecipe.Of(training), reference.Model.ImageSize);

        var forward = run.Forward.Where(kv => reference.Has(kv.Key))
            .Select(kv => Comparison.Of(kv.Key, kv.Value, reference.Tensor(kv.Key), reference.ForwardTolerance)).ToList();

        var first = training.Steps[0];
        var losses = Losses(run.FirstLosses, new StepLosses(first.Loss, first.LossCe, first.LossDice), reference.LossTolerance);

        var grads = PthStateDict.Read(reference.GradsPath);
        var after = PthStateDict.Read(reference.AfterStepsPath);
        try
        {
            return
            [
                new CheckGroup("trainable parameters", [Comparison.Of("count", trainableCount, reference.TrainableParameters, new Tolerance(0, 0))]),
                new CheckGroup("forward", forward),
                new CheckGroup("losses of step 1", losses),
                new CheckGroup("gradients of step 1", Gradients(run, grads, reference.GradsTolerance)),
                new CheckGroup($"tensors after {training.Steps.Count} steps", Tensors(run.After, after, reference.AfterStepsTolerance)),
            ];
        }
        finally
        {
            foreach (var tensor in grads.Values.Concat(after.Values))
                tensor.Dispose();
        }
    }

    /// <summary>SAMed's loss and its cross-entropy and Dice terms against the reference's.</summary>
    public static Comparison[] Losses(StepLosses got, StepLosses want, Tolerance tolerance) =>
    [
        Comparison.Of("loss", got.Loss, want.Loss, tolerance),
        Comparison.Of("loss_ce", got.CrossEntropy, want.CrossEntropy, tolerance),
        Comparison.Of("loss_dice", got.Dice, want.Dice, tolerance),
    ];

    /// <summary>Every gradient against the reference's: one that only one side has is a failure.</summary>
    public static List<Comparison> Gradients(ModelRun run, IReadOnlyDictionary<string, Tensor> want, Tolerance tolerance)
    {
        var comparisons = new List<Comparison>();
        foreach (var (name, grad) in run.Gradients)
        {
            if (want.TryGetValue(name, out var wanted))
                comparisons.Add(grad is null ? Comparison.Failed($"grad {name}", tolerance, "no gradient, the reference has one") : Comparison.Of($"grad {name}", grad, wanted, tolerance));
            else if (grad is not null)
                comparisons.Add(Comparison.Failed($"grad {name}", tolerance, "a gradient, the reference has none"));
        }
        comparisons.AddRange(want.Keys.Where(k => !run.Gradients.ContainsKey(k)).Select(k => Comparison.Failed($"grad {k}", tolerance, "not a trainable tensor of the model")));
        return comparisons;
    }

    /// <summary>Every tensor against the reference's, by name; a name on one side only is a failure.</summary>
    public static List<Comparison> Tensors(IReadOnlyDictionary<string, Tensor> got, IReadOnlyDictionary<string, Tensor> want, Tolerance tolerance)
    {
        var comparisons = got.Select(kv => want.TryGetValue(kv.Key, out var wanted)
            ? Comparison.Of(kv.Key, kv.Value, wanted, tolerance)
            : Comparison.Failed(kv.Key, tolerance, "missing from the reference")).ToList();
        comparisons.AddRange(want.Keys.Where(k => !got.ContainsKey(k)).Select(k => Comparison.Failed(k, tolerance, "not a trainable tensor of the model")));
        return comparisons;
    }
}
