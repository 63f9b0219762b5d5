using SAMed.Lora;
using SAMed.Modeling;
using SAMed.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Benchmarks;

/// <summary>Backward through the frozen encoder forms only input gradients: no frozen weight gets a gradient.</summary>
public class FrozenEncoderTests
{
    [Fact]
    public void ATrainingStepLeavesEveryFrozenEncoderWeightWithoutGradient()
    {
        torch.manual_seed(3);
        using var model = new LoraSam(new Sam(SamConfig.Tiny(32, 3)), 4);
        model.train();
        using var optimizer = new AdamWOptimizer(model.TrainableParameters().Select(p => p.p), 0.005, 0.9, 0.999, 1e-8, 0.1);
        var step = new TrainingStep(x => model.Forward(x, true, 32).low_res_logits, new SamedLoss(4, 0.8), optimizer);
        using var scope = torch.NewDisposeScope();
        step.Run(torch.rand(2, 3, 32, 32), torch.randint(0, 4, [2, 32, 32], dtype: ScalarType.Int64));

        var frozen = model.Sam.ImageEncoder.named_parameters().ToList();
        Assert.NotEmpty(frozen);
        Assert.All(frozen, p => Assert.False(p.parameter.requires_grad, $"{p.name} requires grad"));
        Assert.All(frozen, p => Assert.True(p.parameter.grad is null, $"{p.name} got a gradient"));
        // The LoRA B matrices (after the frozen qkv) did receive gradients, so backward did run through the encoder.
        Assert.Contains(model.TrainableParameters(), p => p.name.StartsWith("w_b_", StringComparison.Ordinal) && p.p.grad is not null && p.p.grad.abs().sum().item<float>() > 0);
    }
}
