using SAMed.Tests.Reference;
using SAMed.Training;

namespace SAMed.Tests.Training;

public class TrainConfigTests
{
    private static string Config(string name) => Path.Combine(SharedPaths.RepositoryRoot, "configs", name);

    [Fact]
    public void PaperRecipeMatchesSamedTrainPy()
    {
        var c = TrainConfigFile.Load(Config("synapse_vit_b.json"));
        Assert.Equal(("vit_b", 512, 4, 8), (c.VitName, c.ImgSize, c.Rank, c.NumClasses));
        Assert.Equal(24, c.EffectiveBatchSize);
        Assert.Equal((0.005, true, 250), (c.BaseLr, c.Warmup, c.WarmupPeriod));
        Assert.Equal(new[] { 0.9, 0.999 }, c.Betas);
        Assert.Equal((0.1, 0.9, 200, 160, 0.8, 1234), (c.WeightDecay ?? double.NaN, c.LrExponent, c.MaxEpochs, c.StopEpoch, c.DiceWeight, c.Seed));
        Assert.Empty(TrainConfigFile.Problems(c));
    }

    /// <summary>The Synapse configs of the other strategies are SAMed's recipe with the strategy changed (and full's learning rate).</summary>
    [Theory]
    [InlineData("adapter", 0.005)]
    [InlineData("decoder", 0.005)]
    [InlineData("full", 0.0001)]
    public void StrategyRecipesDifferFromSamedsOnlyInStrategy(string strategy, double baseLr)
    {
        var lora = TrainConfigFile.Load(Config("synapse_vit_b.json"));
        var c = TrainConfigFile.Load(Config($"synapse_vit_b_{strategy}.json"));
        Assert.Equal(SAMed.Adaptation.Strategies.Lora, lora.Strategy);
        Assert.Equal(strategy, c.Strategy);
        Assert.Equal(baseLr, c.BaseLr);
        Assert.Equal(TrainConfigFile.ToJson(lora with { Strategy = strategy, BaseLr = baseLr }), TrainConfigFile.ToJson(c));
        Assert.Empty(TrainConfigFile.Problems(c));
    }

    [Fact]
    public void Bfloat16NeedsAFrozenEncoder()
    {
        var c = TrainPresets.Smoke with { Precision = "bfloat16" };
        Assert.Empty(TrainConfigFile.Problems(c with { Strategy = "decoder" }));
        Assert.Contains(TrainConfigFile.Problems(c with { Strategy = "adapter" }), p => p.Contains("strategy adapter trains encoder weights", StringComparison.Ordinal));
        Assert.Contains(TrainConfigFile.Problems(c with { Strategy = "lorax" }), p => p.StartsWith("strategy 'lorax' must be one of lora, adapter, decoder, full", StringComparison.Ordinal));
    }

    [Fact]
    public void SamedHRecipeUsesItsExponentAndEpochs()
    {
        var c = TrainConfigFile.Load(Config("synapse_vit_h.json"));
        Assert.Equal(("vit_h", 24, 7.0, 400, 300), (c.VitName, c.EffectiveBatchSize, c.LrExponent, c.MaxEpochs, c.StopEpoch));
        Assert.Empty(TrainConfigFile.Problems(c));
    }

    /// <summary>SAMed's trainer.py: AdamW(weight_decay=0.1) or SGD(momentum=0.9, weight_decay=0.0001); deterministic 1.</summary>
    [Fact]
    public void WeightDecayNotGivenIsSamedsForTheOptimizerAndDeterministicIsOn()
    {
        var adamw = TrainConfigFile.Parse("""{ "optimizer": "adamw" }""", "adamw");
        var sgd = TrainConfigFile.Parse("""{ "optimizer": "sgd" }""", "sgd");
        Assert.Equal((null, 0.1), (adamw.WeightDecay, adamw.EffectiveWeightDecay));
        Assert.Equal((null, 1e-4), (sgd.WeightDecay, sgd.EffectiveWeightDecay));
        Assert.Equal(1e-4, TrainConfigFile.Apply(adamw, ["optimizer=sgd"]).EffectiveWeightDecay);
        Assert.Equal(0.05, TrainConfigFile.Parse("""{ "optimizer": "sgd", "weight_decay": 0.05 }""", "sgd").EffectiveWeightDecay);
        Assert.Equal(0.0, TrainConfigFile.Apply(sgd, ["weight_decay=0"]).EffectiveWeightDecay);
        Assert.True(adamw.Deterministic);
        Assert.False(TrainConfigFile.Apply(adamw, ["deterministic=false"]).Deterministic);
        using var optimizer = OptimizerFactory.Create(sgd, [new TorchSharp.Modules.Parameter(TorchSharp.torch.zeros(2))], 0.01);
        Assert.Equal(1e-4, Assert.IsType<SgdOptimizer>(optimizer).WeightDecay);
    }

    [Fact]
    public void SmokeConfigIsValidAndSynthetic()
    {
        var c = TrainConfigFile.Load(Config("smoke.json"));
        Assert.True(c.SyntheticData);
        Assert.Equal("tiny", c.VitName);
        Assert.Empty(TrainConfigFile.Problems(c));
        Assert.Empty(TrainConfigFile.EnvironmentProblems(c));
        Assert.Equal(TrainConfigFile.ToJson(TrainPresets.Smoke), TrainConfigFile.ToJson(c));
    }

    [Fact]
    public void SaveAndLoadRoundTrip()
    {
        string path = Path.Combine(Path.GetTempPath(), $"samed-config-{Guid.NewGuid():N}.json");
        try
        {
            var c = new TrainConfig { Rank = 7, MaxSteps = 12, Betas = [0.8, 0.95], SamCheckpoint = "x.pth" };
            TrainConfigFile.Save(c, path);
            string text = File.ReadAllText(path);
            Assert.Contains("\"max_steps\": 12", text);
            Assert.Contains("\"sam_checkpoint\": \"x.pth\"", text);
            var back = TrainConfigFile.Load(path);
            Assert.Equal(TrainConfigFile.ToJson(c), TrainConfigFile.ToJson(back));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void OverridesSetAnyKeyWithItsType()
    {
        var c = TrainConfigFile.Apply(new TrainConfig(), ["base_lr=0.01", "warmup=false", "vit_name=tiny", "betas=[0.5,0.6]", "max_steps=3", "device=cuda:1", "output=123"]);
        Assert.Equal(0.01, c.BaseLr);
        Assert.False(c.Warmup);
        Assert.Equal("tiny", c.VitName);
        Assert.Equal(new[] { 0.5, 0.6 }, c.Betas);
        Assert.Equal(3, c.MaxSteps);
        Assert.Equal("cuda:1", c.Device);
        Assert.Equal("123", c.Output);
        Assert.Null(TrainConfigFile.Apply(c, ["max_steps=null"]).MaxSteps);
    }

    [Fact]
    public void UnknownKeyInFileIsRejectedByName()
    {
        var e = Assert.Throws<TrainConfigException>(() => TrainConfigFile.Parse("{\"base_lr\": 0.01, \"bse_lr\": 1}", "my.json"));
        Assert.Contains("my.json", e.Message);
        Assert.Contains("bse_lr", e.Message);
    }

    [Fact]
    public void UnknownOverrideKeyIsRejected()
    {
        var e = Assert.Throws<TrainConfigException>(() => TrainConfigFile.Apply(new TrainConfig(), ["learning_rate=1"]));
        Assert.Contains("unknown setting 'learning_rate'", e.Message);
    }

    [Fact]
    public void WrongTypeIsRejectedWithItsKey()
    {
        var e = Assert.Throws<TrainConfigException>(() => TrainConfigFile.Parse("{\"batch_size\": \"twelve\"}", "my.json"));
        Assert.Contains("batch_size", e.Message);
        Assert.Throws<TrainConfigException>(() => TrainConfigFile.Apply(new TrainConfig(), ["rank=four"]));
        Assert.Throws<TrainConfigException>(() => TrainConfigFile.Apply(new TrainConfig(), ["rank=2.5"]));
    }

    [Fact]
    public void OutOfRangeValuesAreAllListed()
    {
        var c = new TrainConfig { BaseLr = -1, Rank = 0, DiceWeight = 1.5, Device = "gpu", ImgSize = 100, VitName = "vit_x", GradAccumSteps = 25 };
        var e = Assert.Throws<TrainConfigException>(() => TrainConfigFile.Validate(c, "cfg"));
        foreach (string key in new[] { "base_lr", "rank", "dice_weight", "device", "img_size", "vit_name", "grad_accum_steps" })
            Assert.Contains(key, e.Message);
    }

    [Fact]
    public void MisspeltDeviceIsReportedOnce()
    {
        var c = new TrainConfig { SyntheticData = true, Device = "gpu0" };
        Assert.Contains("device 'gpu0' must be cpu, cuda or cuda:N", TrainConfigFile.Problems(c));
        Assert.DoesNotContain(TrainConfigFile.EnvironmentProblems(c), p => p.Contains("gpu0", StringComparison.Ordinal));
        var e = Assert.Throws<TrainConfigException>(() => TrainConfigFile.Check(c, "cfg"));
        Assert.Single(e.Message.Split('\n'), line => line.Contains("gpu0", StringComparison.Ordinal));
    }

    [Fact]
    public void MissingCheckpointAndUnavailableCudaAreEnvironmentProblems()
    {
        var c = new TrainConfig { SyntheticData = true, SamCheckpoint = "/nonexistent/sam.pth", Device = "cuda" };
        var problems = TrainConfigFile.EnvironmentProblems(c);
        Assert.Contains(problems, p => p.Contains("/nonexistent/sam.pth", StringComparison.Ordinal) && p.Contains("not found", StringComparison.Ordinal));
        if (!TorchSharp.torch.cuda.is_available())
            Assert.Contains(problems, p => p.Contains("CUDA is not available", StringComparison.Ordinal));
        Assert.Throws<TrainConfigException>(() => TrainConfigFile.Check(c, "cfg"));
    }
}
