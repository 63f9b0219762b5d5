using SAMed.Adaptation;
using SAMed.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Diagnostics;

/// <summary>
/// The same random-init model, batch and steps on the CPU and on a device, compared: the forward pass, the first
/// step's losses and gradients and the trainable tensors after two AdamW steps. Needs no files. On the CPU itself
/// it runs the computation twice and so checks that it repeats exactly.
/// </summary>
public static class DeviceCheck
{
    /// <summary>The tiny SAM (patch 4, 64 x 64) with SAMed's rank-4 LoRA and 3 classes.</summary>
    public static ModelSpec Spec { get; } = new() { Size = "tiny", ImgSize = 64, NumClasses = 3, Strategy = Strategies.Lora, Rank = 4, Seed = 1234 };

    /// <summary>SAMed's AdamW and loss; one warmup step, so the two steps use different rates.</summary>
    public static StepRecipe Recipe { get; } = new(DiceWeight: 0.8, BaseLr: 0.005, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, WarmupPeriod: 1, MaxIterations: 10, Steps: 2);

    /// <summary>
    /// The public parity case's tolerances (SAMed's PyTorch against this code, both float32): a device that computes
    /// float32 as the CPU does (TF32 off) differs from it by less than two implementations do.
    /// </summary>
    public static Tolerance ForwardTolerance { get; } = new(2e-5, 1e-4);

    public static Tolerance LossTolerance { get; } = new(1e-5, 1e-5);

    public static Tolerance GradsTolerance { get; } = new(1e-6, 1e-3);

    /// <summary>
    /// AdamW's first steps move a tensor by about the learning rate whatever the gradient's size, so a gradient that
    /// is zero in exact arithmetic and 1e-11 in float32 moves it by up to lr * |g| / (|g| + eps): bounded here by
    /// 5e-4 as in the parity case.
    /// </summary>
    public static Tolerance AfterStepsTolerance { get; } = new(5e-4, 0);

    public static IReadOnlyList<CheckGroup> Run(Device device)
    {
        using var scope = torch.NewDisposeScope();
        int size = Spec.ImgSize;
        int lowRes = Spec.Architecture.ImageEmbeddingSize * 4;
        using var generator = new Generator((ulong)Spec.Seed, torch.CPU);
        var images = torch.rand([2, 3, size, size], generator: generator);
        var labels = torch.randint(0, Spec.NumClasses + 1, [2, lowRes, lowRes], dtype: ScalarType.Int64, generator: generator);

        // One set of weights for both runs, copied: the global generator is shared with whatever else runs in the process.
        using var cpuModel = RandomModel();
        var initial = cpuModel.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        using var onCpu = ModelRun.Execute(cpuModel, images, labels, Recipe, Spec.ImgSize);
        using var deviceModel = ModelFactory.Create(Spec);
        deviceModel.load_state_dict(initial);
        deviceModel.to(device);
        using var onDevice = ModelRun.Execute(deviceModel, images, labels, Recipe, Spec.ImgSize);
        var forward = onCpu.Forward.Select(kv => Comparison.Of(kv.Key, onDevice.Forward[kv.Key], kv.Value, ForwardTolerance)).ToList();
        var losses = ReferenceCheck.Losses(onDevice.FirstLosses, onCpu.FirstLosses, LossTolerance);
        var cpuGradients = onCpu.Gradients.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!);
        return
        [
            new CheckGroup("forward", forward),
            new CheckGroup("losses of step 1", losses),
            new CheckGroup("gradients of step 1", ReferenceCheck.Gradients(onDevice, cpuGradients, GradsTolerance)),
            new CheckGroup($"tensors after {Recipe.Steps} steps", ReferenceCheck.Tensors(onDevice.After, onCpu.After, AfterStepsTolerance)),
        ];
    }

    /// <summary>The model on the CPU, LoRA's B drawn from a seeded generator (not SAMed's zeros, so that A gets gradients).</summary>
    private static AdaptedSam RandomModel()
    {
        var model = ModelFactory.Create(Spec);
        using var noGrad = torch.no_grad();
        using var generator = new Generator((ulong)Spec.Seed + 1, torch.CPU);
        foreach (var (_, parameter) in model.TrainableParameters().Where(p => LoraSam.IsBKey(p.name)))
            parameter.normal_(0, 0.01, generator);
        return model;
    }
}
