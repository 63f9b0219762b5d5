using SAMed.Checkpoints;
using SAMed.Diagnostics;
using SAMed.Tests.Reference;
using SAMed.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Tests.Training;

/// <summary>Three SAMed training steps of every reference case against SAMed's PyTorch run, on SAMED_TEST_DEVICE.</summary>
public class StepParityTests
{
    [SkippableTheory]
    [Trait("Category", "Parity")]
    [MemberData(nameof(ParityCases.Cases), MemberType = typeof(ParityCases))]
    public void ThreeStepsMatchSamedReference(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        var training = reference.Training ?? throw new InvalidDataException($"{caseDirectory}: case.json has no training section");
        Assert.True(training.SameBatchEachStep, "the case's steps must reuse one batch");
        using var scope = torch.NewDisposeScope();
        var device = TestDevice.Get();
        using var model = reference.CreateModel(device);
        var trainable = model.TrainableParameters().ToList();
        var schedule = new LearningRateSchedule(training.BaseLr, Warmup: true, training.WarmupPeriod, training.MaxIterations);
        using var optimizer = new AdamWOptimizer(trainable.Select(t => t.p), schedule.Initial, training.Beta1, training.Beta2, training.Eps, training.WeightDecay);
        int imageSize = reference.Model.ImageSize;
        var loss = new SamedLoss(reference.Model.NumClasses + 1, training.DiceWeight);
        var step = new TrainingStep(x => model.Forward(x, multimaskOutput: true, imageSize).low_res_logits, loss, optimizer);
        var input = reference.Tensor("input").to(device);
        var labels = reference.Tensor("low_res_label").to(device);

        for (int it = 0; it < training.Steps.Count; it++)
        {
            var want = training.Steps[it];
            Assert.Equal(it, want.Iteration);
            double lr = optimizer.LearningRate;
            Assert.True(Math.Abs(lr - want.Lr) <= 1e-12, $"step {it}: lr {lr:R}, SAMed used {want.Lr:R}");
            Assert.Equal(want.Lr, schedule.ForStep(it), 12);

            optimizer.ZeroGrad();
            var losses = step.Backward(input, labels);
            if (it == 0)
            {
                AssertScalar("loss", losses.Loss, want.Loss, reference.LossTolerance);
                AssertScalar("loss_ce", losses.CrossEntropy, want.LossCe, reference.LossTolerance);
                AssertScalar("loss_dice", losses.Dice, want.LossDice, reference.LossTolerance);
                AssertGradients(reference, trainable);
            }
            optimizer.Step();
            optimizer.LearningRate = schedule.AfterStep(it);
        }

        var after = PthStateDict.Read(reference.AfterStepsPath);
        Assert.Equal(trainable.Select(t => t.name).Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, parameter) in trainable)
            ParityCases.AssertClose($"after {training.Steps.Count} steps: {name}", parameter, after[name], reference.AfterStepsTolerance);
    }

    /// <summary>
    /// Gradient accumulation over micro-batches of one sample must still give SAMed's whole-batch loss and gradient.
    /// A case whose batch is one sample cannot be split: skipped.
    /// </summary>
    [SkippableTheory]
    [Trait("Category", "Parity")]
    [MemberData(nameof(ParityCases.Cases), MemberType = typeof(ParityCases))]
    public void AccumulatedMicroBatchesGiveSamedsWholeBatchGradient(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        var training = reference.Training ?? throw new InvalidDataException($"{caseDirectory}: case.json has no training section");
        Skip.If(reference.Batch < 2, $"{reference.Name}: a batch of {reference.Batch} cannot be split into micro-batches");
        using var scope = torch.NewDisposeScope();
        var device = TestDevice.Get();
        using var model = reference.CreateModel(device);
        var trainable = model.TrainableParameters().ToList();
        using var optimizer = new AdamWOptimizer(trainable.Select(t => t.p), training.BaseLr, training.Beta1, training.Beta2, training.Eps, training.WeightDecay);
        var input = reference.Tensor("input").to(device);
        int batch = (int)input.shape[0];
        var step = new TrainingStep(x => model.Forward(x, multimaskOutput: true, reference.Model.ImageSize).low_res_logits,
            new SamedLoss(reference.Model.NumClasses + 1, training.DiceWeight), optimizer, accumulationSteps: batch);
        optimizer.ZeroGrad();
        var losses = step.Backward(input, reference.Tensor("low_res_label").to(device));
        var first = training.Steps[0];
        AssertScalar("loss", losses.Loss, first.Loss, reference.LossTolerance);
        AssertScalar("loss_ce", losses.CrossEntropy, first.LossCe, reference.LossTolerance);
        AssertScalar("loss_dice", losses.Dice, first.LossDice, reference.LossTolerance);
        AssertGradients(reference, trainable);
    }

    private static void AssertGradients(ParityCase reference, IReadOnlyList<(string name, Parameter p)> trainable)
    {
        var grads = PthStateDict.Read(reference.GradsPath);
        var names = trainable.Select(t => t.name).ToHashSet();
        Assert.DoesNotContain(grads.Keys, k => !names.Contains(k));
        foreach (var (name, parameter) in trainable)
        {
            if (grads.TryGetValue(name, out var want))
            {
                Assert.True(parameter.grad is not null, $"{name}: SAMed computed a gradient, we got none");
                ParityCases.AssertClose($"grad {name}", parameter.grad!, want, reference.GradsTolerance);
            }
            else
            {
                Assert.True(parameter.grad is null, $"{name}: got a gradient but SAMed's loss does not reach it");
            }
        }
    }

    private static void AssertScalar(string what, double got, double want, Tolerance tolerance) =>
        Assert.True(Math.Abs(got - want) <= tolerance.Atol + tolerance.Rtol * Math.Abs(want),
            $"{what}: got {got:R}, SAMed {want:R} (atol {tolerance.Atol}, rtol {tolerance.Rtol})");
}
