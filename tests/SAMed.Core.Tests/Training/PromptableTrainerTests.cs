using SAMed.Adaptation;
using SAMed.Checkpoints;
using SAMed.Data;
using SAMed.Diagnostics;
using SAMed.Inference;
using SAMed.Modeling;
using SAMed.Training;
using TorchSharp;

namespace SAMed.Tests.Training;

/// <summary>The promptable mode of the trainer on the smoke configuration: it learns, writes a run folder, resumes.</summary>
[Collection(TorchRngCollection.Name)]
public sealed class PromptableTrainerTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"samed-prompt-trainer-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(root))
            Directory.Delete(root, recursive: true);
    }

    private TrainerOptions Quiet(string name, bool evaluate, Action<long>? afterStep = null) => new()
    {
        Output = TextWriter.Null,
        Interactive = false,
        RunDirectory = Path.Combine(root, name),
        Evaluate = evaluate,
        AfterStep = afterStep,
    };

    [Theory]
    [InlineData("box", 1, 0)]
    [InlineData("point", 1, 0)]
    [InlineData("mixed", 2, 1)]
    public void PromptableStepsLowerTheLossAndSaveTheIouHead(string kind, int points, int negatives)
    {
        var config = TrainPresets.Smoke with
        {
            Mode = "promptable",
            PromptKind = kind,
            PromptPoints = points,
            PromptNegativePoints = negatives,
            MaxSteps = 20,
            SyntheticTrainVolumes = 1,
            SyntheticTestVolumes = 1,
            SyntheticSlices = 8,
        };
        var result = Trainer.Train(config, Quiet(kind, evaluate: true));
        Assert.Equal(20, result.Iterations);
        double first = result.Steps.Take(5).Average(s => s.Loss);
        double last = result.Steps.TakeLast(5).Average(s => s.Loss);
        Assert.True(last < first, $"loss rose from {first:F4} to {last:F4}");
        Assert.NotNull(result.HeldOut);
        Assert.InRange(result.HeldOut!.MeanDice, 0, 1);
        var saved = PthStateDict.Read(result.LoraCheckpoint);
        Assert.Equal([4L, 32L], saved["mask_decoder.mask_tokens.weight"].shape);
        Assert.Contains("mask_decoder.iou_prediction_head.layers.2.weight", saved.Keys);
        Assert.True(File.Exists(Path.Combine(result.RunDirectory, Trainer.EvaluationFile)));
    }

    [Theory]
    [InlineData(Strategies.Adapter)]
    [InlineData(Strategies.Decoder)]
    [InlineData(Strategies.Full)]
    public void EveryStrategyTrainsPromptablyAndSavesItsOwnCheckpoint(string strategy)
    {
        var config = TrainPresets.Smoke with
        {
            Mode = "promptable",
            Strategy = strategy,
            MaxSteps = 6,
            SyntheticTrainVolumes = 1,
            SyntheticTestVolumes = 0,
            SyntheticSlices = 8,
        };
        var console = new StringWriter();
        var result = Trainer.Train(config, Quiet(strategy, evaluate: false) with { Output = console });
        Assert.Equal(6, result.Iterations);
        Assert.Contains("(bce ", console.ToString());
        Assert.All(result.Steps, s => Assert.True(double.IsFinite(s.Loss), $"loss {s.Loss}"));
        Assert.Equal(strategy, CheckpointContents.Read(result.LoraCheckpoint).Strategy);
        var described = ModelSpecFile.FindBeside(result.LoraCheckpoint);
        Assert.NotNull(described);
        Assert.Equal(("promptable", strategy), (described!.Mode, described.Strategy));

        // Inference reads the description: no --model, --img-size or --pixel-norm needed, a contradicting one refused.
        using (var loaded = PromptableModel.Load(new ModelLoadOptions { LoraCheckpoint = result.LoraCheckpoint }, norm: null))
            Assert.Contains($"{strategy} from {result.LoraCheckpoint}", loaded.Description);
        var refused = Assert.Throws<ArgumentException>(() => PromptableModel.Load(new ModelLoadOptions { LoraCheckpoint = result.LoraCheckpoint }, PixelNorm.Sam));
        Assert.Contains("--pixel-norm medsam", refused.Message);
    }

    [Fact]
    public void InterruptedPromptableRunResumesToTheSameTensors()
    {
        var config = TrainPresets.Smoke with
        {
            Mode = "promptable",
            MaxSteps = 12,
            ResumeInterval = 4,
            SaveInterval = 100,
            SyntheticTrainVolumes = 1,
            SyntheticTestVolumes = 0,
            SyntheticSlices = 16,
        };
        var whole = Trainer.Train(config, Quiet("whole", evaluate: false));
        Assert.Throws<OperationCanceledException>(() => Trainer.Train(config, Quiet("killed", evaluate: false,
            afterStep: done => { if (done == 10) throw new OperationCanceledException("killed"); })));
        var resumed = Trainer.Resume(Path.Combine(root, "killed"), Quiet("killed", evaluate: false));
        Assert.Equal(12, resumed.Iterations);
        var want = PthStateDict.Read(whole.LoraCheckpoint);
        var got = PthStateDict.Read(resumed.LoraCheckpoint);
        foreach (var (name, tensor) in want)
            Reference.ParityCases.AssertClose(name, got[name], tensor, new Tolerance(1e-6, 1e-6));
    }

    /// <summary>
    /// The trainer's promptable run is <see cref="PromptableStep"/> on the loader's batches, across epochs (2 batches
    /// each here): step n (0-based) given iteration n, which seeds its prompts, and the schedule's rate after each step.
    /// </summary>
    [Fact]
    public void APromptableRunIsPromptableStepsOnTheLoadersBatches()
    {
        const int steps = 6;
        var config = TrainPresets.Smoke with
        {
            Mode = "promptable",
            PromptKind = "mixed",
            PromptPoints = 2,
            PromptNegativePoints = 1,
            MaxSteps = steps,
            SyntheticTrainVolumes = 1,
            SyntheticTestVolumes = 0,
            SyntheticSlices = 16,
        };
        var run = Trainer.Train(config, Quiet("trainer", evaluate: false));

        var data = Trainer.LocateData(config, run.RunDirectory);
        using var model = TrainingModel.Create(config, torch.CPU);
        var promptable = new PromptableSam(model.Sam);
        var dataset = new SynapseDataset(data.Layout.TrainDir, data.Layout.TrainListPath, new RandomGenerator(config.ImgSize, promptable.LowResSize),
            new SynapseDatasetOptions(Preload: true, NumClasses: config.NumClasses));
        var loader = new DataLoader(dataset, new DataLoaderOptions(config.EffectiveBatchSize, Seed: (ulong)config.Seed));
        var schedule = new LearningRateSchedule(config.BaseLr, config.Warmup, config.WarmupPeriod, (long)config.MaxEpochs * loader.BatchesPerEpoch, config.LrExponent);
        using var optimizer = OptimizerFactory.Create(config, model.TrainableParameters().Select(t => t.p), schedule.Initial);
        var step = new PromptableStep(promptable, config, optimizer, torch.CPU);
        model.train();
        long iteration = 0;
        foreach (var batch in Enumerable.Range(0, config.MaxEpochs).SelectMany(epoch => loader.Epoch(epoch)).Take(steps))
        {
            using (batch)
            using (torch.NewDisposeScope())
                step.Run(batch, iteration);
            optimizer.LearningRate = schedule.AfterStep(iteration++);
        }

        string byHand = Path.Combine(root, "by-hand.pth");
        model.SaveCheckpoint(byHand);
        var want = PthStateDict.Read(byHand);
        var got = PthStateDict.Read(run.LoraCheckpoint);
        Assert.Equal(want.Keys.Order(), got.Keys.Order());
        foreach (var (name, tensor) in want)
            Reference.ParityCases.AssertClose(name, got[name], tensor, new Tolerance(1e-6, 1e-6));
    }

    [Fact]
    public void UnknownModeIsAConfigurationError()
    {
        var error = Assert.Throws<TrainConfigException>(() => TrainConfigFile.Check(TrainPresets.Smoke with { Mode = "prompted" }, "c.json"));
        Assert.Contains("mode 'prompted'", error.Message);
        var accumulation = Assert.Throws<TrainConfigException>(() => TrainConfigFile.Check(TrainPresets.Smoke with { Mode = "promptable", GradAccumSteps = 2 }, "c.json"));
        Assert.Contains("grad_accum_steps 2: the promptable mode steps on the whole batch", accumulation.Message);
    }
}
