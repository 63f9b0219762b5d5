using TorchSharp.Modules;

namespace SAMed.Training;

/// <summary>SAMed's optimizers over the trainable tensors only: AdamW (SAMed's --AdamW) or SGD with momentum.</summary>
public static class OptimizerFactory
{
    public static SamedOptimizer Create(TrainConfig config, IEnumerable<Parameter> trainable, double initialLr) => config.Optimizer switch
    {
        "adamw" => new AdamWOptimizer(trainable, initialLr, config.Betas[0], config.Betas[1], config.Eps, config.EffectiveWeightDecay),
        "sgd" => new SgdOptimizer(trainable, initialLr, config.Momentum, config.EffectiveWeightDecay),
        _ => throw new TrainConfigException($"optimizer '{config.Optimizer}' must be adamw or sgd"),
    };
}
