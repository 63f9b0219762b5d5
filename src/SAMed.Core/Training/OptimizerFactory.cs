using TorchSharp;
using TorchSharp.Modules;

namespace SAMed.Training;

/// <summary>
/// SAMed's optimizers over the trainable tensors only. AdamW is TorchSharp's, which follows PyTorch's algorithm:
/// decoupled decay p *= 1 - lr * weight_decay, then Adam with bias corrections; tensors whose grad is undefined
/// (never reached by backward) are skipped, state and all, as PyTorch skips params whose grad is None.
/// TorchSharp's torch.optim.AdamW factory defaults beta2 to 0.99, so the betas are always passed explicitly.
/// </summary>
public static class OptimizerFactory
{
    public static torch.optim.Optimizer Create(TrainConfig config, IEnumerable<Parameter> trainable, double initialLr) => config.Optimizer switch
    {
        "adamw" => new AdamW(trainable, initialLr, config.Betas[0], config.Betas[1], config.Eps, config.WeightDecay),
        "sgd" => new SGD(trainable, initialLr, config.Momentum, weight_decay: config.WeightDecay),
        _ => throw new TrainConfigException($"optimizer '{config.Optimizer}' must be adamw or sgd"),
    };

    public static void SetLearningRate(torch.optim.Optimizer optimizer, double lr)
    {
        foreach (var group in optimizer.ParamGroups)
            group.LearningRate = lr;
    }
}
