using SAMed.Adaptation;
using SAMed.Checkpoints;
using SAMed.Diagnostics;
using SAMed.Tests.Reference;
using SAMed.Training;
using SAMed.Training.Parallel;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Tests.Training.Parallel;

/// <summary>
/// Data parallelism on CPU replicas against SAMed's single-device run of every model case (LoRA and adapter): the
/// same first-step losses and gradients, and the same tensors after three steps, at the case's tolerances.
/// </summary>
public class DataParallelStepTests
{
    private static readonly string[] TwoCpus = ["cpu", "cpu"];

    /// <summary>Two replicas (the case's batch split 1 + 1), and three (torch.chunk still makes two chunks; the third replica idles).</summary>
    [SkippableTheory]
    [Trait("Category", "Parity")]
    [MemberData(nameof(CasesOnReplicas))]
    public void CpuReplicasGiveSamedsGradientsAndSteps(string caseDirectory, int replicas)
    {
        var reference = ParityCase.Load(caseDirectory);
        var training = reference.Training ?? throw new InvalidDataException($"{caseDirectory}: case.json has no training section");
        Skip.If(reference.Batch < 2, $"{reference.Name}: a batch of {reference.Batch} cannot be split over devices");
        using var scope = torch.NewDisposeScope();
        using var model = reference.CreateModel();
        using var parallel = DataParallel.Create(model, [.. Enumerable.Repeat("cpu", replicas)], Forward(reference));
        var trainable = model.TrainableParameters().ToList();
        var schedule = new LearningRateSchedule(training.BaseLr, Warmup: true, training.WarmupPeriod, training.MaxIterations);
        using var optimizer = Optimizer(training, trainable, schedule.Initial);
        var step = new DataParallelStep(parallel, new SamedLoss(reference.Model.NumClasses + 1, training.DiceWeight), optimizer);
        var input = reference.Tensor("input");
        var labels = reference.Tensor("low_res_label");

        for (int it = 0; it < training.Steps.Count; it++)
        {
            optimizer.ZeroGrad();
            var losses = step.Backward(input, labels);
            if (it == 0)
            {
                AssertScalar("loss", losses.Loss, training.Steps[0].Loss, reference.LossTolerance);
                AssertScalar("loss_dice", losses.Dice, training.Steps[0].LossDice, reference.LossTolerance);
                AssertGradients(reference, trainable);
            }
            optimizer.Step();
            optimizer.LearningRate = schedule.AfterStep(it);
        }

        var after = PthStateDict.Read(reference.AfterStepsPath);
        foreach (var (name, parameter) in trainable)
            ParityCases.AssertClose($"after {training.Steps.Count} steps on {replicas} replicas: {name}", parameter, after[name], reference.AfterStepsTolerance);
    }

    /// <summary>
    /// Accumulation combined with data parallelism: a batch of four (the case's batch and its mirror image) in two
    /// micro-batches, each split 1 + 1 over two CPU replicas, gives the single-device whole-batch gradient (first step)
    /// and tensors (after three steps) at the case's tolerances.
    /// </summary>
    [SkippableTheory]
    [Trait("Category", "Parity")]
    [MemberData(nameof(ParityCases.Cases), MemberType = typeof(ParityCases))]
    public void AccumulatedMicroBatchesOverReplicasGiveTheWholeBatchSteps(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        var training = reference.Training ?? throw new InvalidDataException($"{caseDirectory}: case.json has no training section");
        Skip.If(reference.Batch < 2, $"{reference.Name}: a batch of {reference.Batch} cannot be split over devices");
        using var scope = torch.NewDisposeScope();
        var input = torch.cat([reference.Tensor("input"), reference.Tensor("input").flip(3)], 0);
        var labels = torch.cat([reference.Tensor("low_res_label"), reference.Tensor("low_res_label").flip(2)], 0);
        var loss = new SamedLoss(reference.Model.NumClasses + 1, training.DiceWeight);
        var schedule = new LearningRateSchedule(training.BaseLr, Warmup: true, training.WarmupPeriod, training.MaxIterations);

        using var single = reference.CreateModel();
        var singleTrainable = single.TrainableParameters().ToList();
        using var singleOptimizer = Optimizer(training, singleTrainable, schedule.Initial);
        var singleStep = new TrainingStep(x => Forward(reference)(single, x), loss, singleOptimizer);

        using var model = reference.CreateModel();
        using var parallel = DataParallel.Create(model, TwoCpus, Forward(reference));
        var trainable = model.TrainableParameters().ToList();
        using var optimizer = Optimizer(training, trainable, schedule.Initial);
        var step = new DataParallelStep(parallel, loss, optimizer, accumulationSteps: 2);

        for (int it = 0; it < 3; it++)
        {
            singleOptimizer.ZeroGrad();
            optimizer.ZeroGrad();
            var want = singleStep.Backward(input, labels);
            var got = step.Backward(input, labels);
            if (it == 0)
            {
                AssertScalar("loss", got.Loss, want.Loss, reference.LossTolerance);
                foreach (var ((name, p), (_, q)) in trainable.Zip(singleTrainable))
                {
                    Assert.Equal(q.grad is null, p.grad is null);
                    if (q.grad is not null)
                        ParityCases.AssertClose($"grad {name}", p.grad!, q.grad, reference.GradsTolerance);
                }
            }
            singleOptimizer.Step();
            optimizer.Step();
            singleOptimizer.LearningRate = optimizer.LearningRate = schedule.AfterStep(it);
        }
        foreach (var ((name, p), (_, q)) in trainable.Zip(singleTrainable))
            ParityCases.AssertClose($"after 3 steps: {name}", p, q, reference.AfterStepsTolerance);
    }

    /// <summary>A replica's frozen weights are copied once and stay the model's; its trainable tensors follow the model's each step.</summary>
    [SkippableTheory]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void ReplicasHoldTheModelsWeightsAndLeaveTheGlobalGeneratorAlone(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        Skip.If(reference.Batch < 2, $"{reference.Name}: a batch of {reference.Batch} cannot be split over devices");
        using var scope = torch.NewDisposeScope();
        using var model = reference.CreateModel();
        var rngBefore = torch.random.get_rng_state();
        using var parallel = DataParallel.Create(model, TwoCpus, Forward(reference));
        Assert.Equal(rngBefore.data<byte>().ToArray(), torch.random.get_rng_state().data<byte>().ToArray());

        var input = reference.Tensor("input");
        using (torch.no_grad())
        {
            var whole = Forward(reference)(model, input);
            var gathered = parallel.Forward(input);
            Assert.False(gathered.requires_grad);
            ParityCases.AssertClose("gathered logits", gathered, whole, reference.ForwardTolerance);
        }
        Assert.True(parallel.Forward(input).requires_grad);
    }

    [SkippableTheory]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void AFailingReplicaIsNamedAndLeavesTheModelUntouched(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        var training = reference.Training ?? throw new InvalidDataException($"{caseDirectory}: case.json has no training section");
        Skip.If(reference.Batch < 2, $"{reference.Name}: a batch of {reference.Batch} cannot be split over devices");
        using var scope = torch.NewDisposeScope();
        using var model = reference.CreateModel();
        using var parallel = DataParallel.Create(model, TwoCpus, Forward(reference),
            replica => { if (replica == 1) throw new InvalidOperationException("CUDA error: an illegal memory access was encountered"); });
        var trainable = model.TrainableParameters().ToList();
        var before = trainable.Select(t => t.p.detach().clone()).ToList();
        using var optimizer = Optimizer(training, trainable, training.BaseLr);
        var step = new DataParallelStep(parallel, new SamedLoss(reference.Model.NumClasses + 1, training.DiceWeight), optimizer);

        var e = Assert.Throws<ReplicaFailedException>(() => step.Run(reference.Tensor("input"), reference.Tensor("low_res_label")));
        Assert.Equal("device cpu (replica 2 of 2) failed: CUDA error: an illegal memory access was encountered", e.Message);
        Assert.Equal(1, e.Replica);
        foreach (var ((name, p), want) in trainable.Zip(before))
            Assert.True(p.eq(want).all().item<bool>(), $"{name} changed");
    }

    public static TheoryData<string, int> CasesOnReplicas()
    {
        var data = new TheoryData<string, int>();
        foreach (string directory in ParityCases.Directories())
        {
            data.Add(directory, 2);
            data.Add(directory, 3);
        }
        return data;
    }

    private static Func<AdaptedSam, Tensor, Tensor> Forward(ParityCase reference) =>
        (model, images) => model.Forward(images, multimaskOutput: true, reference.Model.ImageSize).low_res_logits;

    private static AdamWOptimizer Optimizer(ParityTraining training, IEnumerable<(string name, Parameter p)> trainable, double lr) =>
        new(trainable.Select(t => t.p), lr, training.Beta1, training.Beta2, training.Eps, training.WeightDecay);

    private static void AssertGradients(ParityCase reference, IReadOnlyList<(string name, Parameter p)> trainable)
    {
        var grads = PthStateDict.Read(reference.GradsPath);
        foreach (var (name, parameter) in trainable)
        {
            if (grads.TryGetValue(name, out var want))
                ParityCases.AssertClose($"grad {name}", parameter.grad ?? throw new Xunit.Sdk.XunitException($"{name}: no gradient"), want, reference.GradsTolerance);
            else
                Assert.True(parameter.grad is null, $"{name}: got a gradient but SAMed's loss does not reach it");
        }
    }

    private static void AssertScalar(string what, double got, double want, Tolerance tolerance) =>
        Assert.True(Math.Abs(got - want) <= tolerance.Atol + tolerance.Rtol * Math.Abs(want),
            $"{what}: got {got:R}, SAMed {want:R} (atol {tolerance.Atol}, rtol {tolerance.Rtol})");
}
