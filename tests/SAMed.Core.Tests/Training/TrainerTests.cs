using SAMed.Checkpoints;
using SAMed.Diagnostics;
using SAMed.IO;
using SAMed.Lora;
using SAMed.Training;
using TorchSharp;

namespace SAMed.Tests.Training;

/// <summary>The whole trainer on the smoke configuration: learning, run files, resume, and errors before compute.</summary>
[Collection(TorchRngCollection.Name)]
public sealed class TrainerTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"samed-trainer-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(root))
            Directory.Delete(root, recursive: true);
    }

    private TrainerOptions Quiet(string name, bool evaluate = true, Action<long>? afterStep = null, CancellationToken cancellation = default) => new()
    {
        Output = TextWriter.Null,
        Interactive = false,
        RunDirectory = Path.Combine(root, name),
        Evaluate = evaluate,
        AfterStep = afterStep,
        Cancellation = cancellation,
    };

    /// <summary>
    /// The CI smoke run: configs/smoke.json (400 iterations) must lower the loss and reach a held-out mean Dice
    /// of 0.30. Measured: held-out mean Dice 0.4275 on the two synthetic test volumes (8 classes; 0.3725 on 2026-12-03, with
    /// 0.4337 at iteration 320 kept as best.pth), mean loss of the
    /// first 20 steps 1.00 and of the last 20 0.37; about 45 s of CPU time.
    /// </summary>
    [Fact]
    [Trait("Category", "Smoke")]
    [Trait("Category", "Slow")]
    public void SmokeConfigLearnsAndWritesTheRunFolder()
    {
        var config = TrainConfigFile.Load(Path.Combine(Reference.SharedPaths.RepositoryRoot, "configs", "smoke.json"));
        var result = Trainer.Train(config, Quiet("smoke"));

        Assert.Equal(400, result.Iterations);
        double first = result.Steps.Take(20).Average(s => s.Loss);
        double last = result.Steps.TakeLast(20).Average(s => s.Loss);
        Assert.True(last < 0.7 * first, $"loss fell only from {first:F4} to {last:F4}");
        Assert.NotNull(result.HeldOut);
        Assert.True(result.HeldOut!.MeanDice >= 0.30, $"held-out mean Dice {result.HeldOut.MeanDice:F4} below 0.30");

        string run = result.RunDirectory;
        Assert.Equal(TrainConfigFile.ToJson(config), TrainConfigFile.ToJson(TrainConfigFile.Load(Path.Combine(run, Trainer.ConfigFile))));
        var rows = TrainingLog.Read(Path.Combine(run, Trainer.LogFile));
        Assert.Equal(Enumerable.Range(1, 400).Select(i => (long)i), rows.Select(r => r.Iteration));
        Assert.Single(Directory.GetFiles(Path.Combine(run, "log"), "events.out.tfevents.*"));
        Assert.True(File.Exists(Path.Combine(run, Trainer.EvaluationFile)));
        // Held-out every eval_interval 5 epochs; the last is the final evaluation; best.pth holds the best of them.
        var evaluations = HeldOutLog.Read(Path.Combine(run, "heldout_log.csv"));
        Assert.Equal(new long[] { 80, 160, 240, 320, 400 }, evaluations.Select(e => e.Iteration));
        Assert.Equal(result.HeldOut.MeanDice, evaluations[^1].MeanDice);
        Assert.True(File.Exists(Path.Combine(run, "best.pth")));
        Assert.Equal(0x89, File.ReadAllBytes(Path.Combine(run, "progress.png"))[0]);
        string transcript = File.ReadAllText(Path.Combine(run, Trainer.TranscriptFile));
        Assert.Contains("iter 400/400", transcript);
        Assert.Contains("held-out (2 volumes) after iteration 400", transcript);
        foreach (int epoch in new[] { 4, 9, 14, 19, 24 })
            Assert.True(File.Exists(Path.Combine(run, $"epoch_{epoch}.pth")), $"epoch_{epoch}.pth missing");
        Assert.Equal(Path.Combine(run, "epoch_24.pth"), result.LoraCheckpoint);

        // The LoRA checkpoint holds exactly the trained tensors, under SAMed's names.
        using var fresh = TrainingModel.Create(config, torch.CPU);
        fresh.LoadCheckpoint(result.LoraCheckpoint);
        var saved = Npz.Read(Path.Combine(run, ResumeCheckpoint.Find(run)!.TensorsFile));
        foreach (var (name, parameter) in fresh.TrainableParameters())
            Assert.Equal(saved[$"param/{name}"].ToFloat(), parameter.data<float>().ToArray());
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void InterruptedAndResumedRunEndsWithTheUninterruptedTensors()
    {
        var config = TrainPresets.Smoke with { MaxSteps = 24, ResumeInterval = 6, SaveInterval = 100, SyntheticTrainVolumes = 2, SyntheticTestVolumes = 0 };
        var whole = Trainer.Train(config, Quiet("whole", evaluate: false));
        Assert.Equal(24, whole.Iterations);
        Assert.Equal(4, whole.IterationsPerEpoch);

        // Killed after step 21 (no final save): the latest resume checkpoint is step 18, in the middle of epoch 4.
        var killed = Assert.Throws<OperationCanceledException>(() => Trainer.Train(config, Quiet("killed", evaluate: false,
            afterStep: done => { if (done == 21) throw new OperationCanceledException("killed"); })));
        Assert.Equal("killed", killed.Message);
        string run = Path.Combine(root, "killed");
        var state = ResumeCheckpoint.Find(run)!;
        Assert.Equal((18L, 4, 2), (state.Iteration, state.Epoch, state.BatchInEpoch));

        var resumed = Trainer.Resume(run, Quiet("killed", evaluate: false));
        Assert.Equal(24, resumed.Iterations);
        Assert.Equal(Enumerable.Range(1, 24).Select(i => (long)i), TrainingLog.Read(Path.Combine(run, Trainer.LogFile)).Select(r => r.Iteration));

        var want = PthStateDict.Read(whole.LoraCheckpoint);
        var got = PthStateDict.Read(resumed.LoraCheckpoint);
        Assert.Equal(want.Keys, got.Keys);
        foreach (var (name, tensor) in want)
            Reference.ParityCases.AssertClose(name, got[name], tensor, new Tolerance(1e-6, 1e-6));
        var wantLosses = whole.Steps.Skip(18).Select(s => s.Loss);
        Assert.Equal(wantLosses, resumed.Steps.Select(s => s.Loss));
    }

    /// <summary>
    /// Accumulating over 4 micro-batches gives the whole batch's steps. Tolerance as the parity cases' after_steps:
    /// Adam divides by sqrt(v), so gradients that are zero up to rounding move tensors by up to ~lr.
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void GradientAccumulationChangesNothingButMemory()
    {
        var config = TrainPresets.Smoke with { MaxSteps = 3, SyntheticTrainVolumes = 1, SyntheticTestVolumes = 0 };
        var whole = Trainer.Train(config, Quiet("whole-batch", evaluate: false));
        var accumulated = Trainer.Train(config with { GradAccumSteps = 4 }, Quiet("accumulated", evaluate: false));
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(whole.Steps[i].Loss, accumulated.Steps[i].Loss, 5);
            Assert.Equal(whole.Steps[i].Lr, accumulated.Steps[i].Lr);
        }
        var want = PthStateDict.Read(whole.LoraCheckpoint);
        var got = PthStateDict.Read(accumulated.LoraCheckpoint);
        foreach (var (name, tensor) in want)
            Reference.ParityCases.AssertClose(name, got[name], tensor, new Tolerance(5e-4, 0));
    }

    /// <summary>SAMed's own data layout (reference/prepare: made by its preprocessing script) through the whole trainer.</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void TrainsAndEvaluatesOnSamedsPreparedLayout()
    {
        string prepared = Reference.SharedPaths.Reference("prepare");
        var config = TrainPresets.Smoke with
        {
            SyntheticData = false,
            RootPath = Path.Combine(prepared, "train_npz"),
            ListDir = prepared,
            VolumePath = Path.Combine(prepared, "test_vol_h5"),
            MaxSteps = 2,
        };
        var result = Trainer.Train(config, Quiet("prepared"));
        Assert.Equal(2, result.Iterations);
        Assert.Equal(4, result.IterationsPerEpoch); // 30 slices in batches of 8
        var heldOut = Assert.IsType<SAMed.Evaluation.EvaluationReport>(result.HeldOut);
        Assert.Equal("case0001", Assert.Single(heldOut.Cases).Case);
        Assert.Equal(8, heldOut.ClassMeans.Count);
        Assert.All(result.Steps, s => Assert.True(double.IsFinite(s.Loss)));
    }

    /// <summary>
    /// A cancelled run (SIGINT/SIGTERM in the program) finishes its step, saves where it is and says how to go on;
    /// resumed, it ends with the uninterrupted run's tensors and losses. Resuming the finished run then changes nothing.
    /// </summary>
    [Fact]
    public void CancelledRunStopsCleanlyAndResumesExactly()
    {
        var config = TrainPresets.Smoke with { MaxSteps = 12, ResumeInterval = 100, SaveInterval = 100, SyntheticTrainVolumes = 2, SyntheticTestVolumes = 0 };
        var whole = Trainer.Train(config, Quiet("whole", evaluate: false));

        using var stop = new CancellationTokenSource();
        var output = new StringWriter();
        var cancelled = Trainer.Train(config, Quiet("cancelled", evaluate: false, afterStep: done => { if (done == 7) stop.Cancel(); }, cancellation: stop.Token) with { Output = output });
        string run = Path.Combine(root, "cancelled");
        Assert.Equal(TrainOutcome.Interrupted, cancelled.Outcome);
        Assert.Equal(7, cancelled.Iterations);
        var state = ResumeCheckpoint.Find(run)!;
        Assert.Equal((7L, 1, 3), (state.Iteration, state.Epoch, state.BatchInEpoch));
        Assert.Contains($"train --resume {run}", output.ToString());
        Assert.Contains($"train --resume {run}", File.ReadAllText(Path.Combine(run, Trainer.TranscriptFile)));

        var resumed = Trainer.Resume(run, Quiet("cancelled", evaluate: false));
        Assert.Equal(TrainOutcome.Completed, resumed.Outcome);
        Assert.Equal(whole.Steps.Skip(7).Select(s => s.Loss), resumed.Steps.Select(s => s.Loss));
        Assert.Equal(whole.Steps.Select(s => s.Lr), TrainingLog.Read(Path.Combine(run, Trainer.LogFile)).Select(s => s.Lr));
        var want = PthStateDict.Read(whole.LoraCheckpoint);
        var got = PthStateDict.Read(resumed.LoraCheckpoint);
        foreach (var (name, tensor) in want)
            Assert.Equal(tensor.data<float>().ToArray(), got[name].data<float>().ToArray());

        var before = Directory.GetFiles(run, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        var again = Trainer.Resume(run, Quiet("cancelled", evaluate: false) with { Output = output });
        Assert.Equal(TrainOutcome.AlreadyFinished, again.Outcome);
        Assert.Empty(again.Steps);
        Assert.Contains("finished (12 of 12 iterations); nothing to resume", output.ToString());
        Assert.Equal(before, Directory.GetFiles(run, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc));
    }

    /// <summary>The CSV's step_lr and TensorBoard's info/step_lr are the rate each step used (SAMed's info/lr, the next one, stays).</summary>
    [Fact]
    public void EveryLogNamesTheLearningRateTheStepUsed()
    {
        var config = TrainPresets.Smoke with { MaxSteps = 3, SyntheticTrainVolumes = 1, SyntheticTestVolumes = 0 };
        var result = Trainer.Train(config, Quiet("lr", evaluate: false));
        var schedule = new LearningRateSchedule(config.BaseLr, config.Warmup, config.WarmupPeriod, 25L * result.IterationsPerEpoch, config.LrExponent);
        var rows = TrainingLog.Read(Path.Combine(result.RunDirectory, Trainer.LogFile));
        Assert.Equal(new[] { schedule.Initial, schedule.AfterStep(0), schedule.AfterStep(1) }, rows.Select(r => r.Lr));
        var events = File.ReadAllBytes(Assert.Single(Directory.GetFiles(Path.Combine(result.RunDirectory, "log"))));
        Assert.Contains("info/step_lr", System.Text.Encoding.UTF8.GetString(events));
        Assert.Contains("info/lr", System.Text.Encoding.UTF8.GetString(events));
    }

    [Fact]
    public void RunNameAndMessageShowTheImagesAStepSees()
    {
        var config = TrainPresets.Smoke with { BatchSize = 1, NGpu = 2 };
        Assert.Contains("_bs1x2_", Path.GetFileName(Trainer.NewRunDirectory(config)));
        Assert.Contains("_bs8_", Path.GetFileName(Trainer.NewRunDirectory(TrainPresets.Smoke)));
        Assert.Contains("= 2 images", StepPlan.BatchNote(config));
        Assert.Null(StepPlan.BatchNote(TrainPresets.Smoke));
    }

    [Fact]
    public void ConfigurationProblemsStopBeforeAnyCompute()
    {
        var config = TrainPresets.Smoke with { SamCheckpoint = Path.Combine(root, "missing.pth") };
        var e = Assert.Throws<TrainConfigException>(() => Trainer.Train(config, Quiet("bad")));
        Assert.Contains("missing.pth", e.Message);
        Assert.False(Directory.Exists(Path.Combine(root, "bad")));
    }

    [Fact]
    public void BadTrainingSliceIsReportedByFileBeforeTheModelIsBuilt()
    {
        string data = Path.Combine(root, "data");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "train.txt"), "case0001_slice000\ncase0001_slice001\n");
        Npz.Write(Path.Combine(data, "case0001_slice000.npz"),
        [
            new("image", NpyArray.FromFloat32(new float[64 * 64], 64, 64)),
            new("label", NpyArray.FromFloat32(Enumerable.Repeat(12f, 64 * 64).ToArray(), 64, 64)),
        ]);
        var config = TrainPresets.Smoke with { SyntheticData = false, RootPath = data, ListDir = data };
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Train(config, Quiet("badslice")));
        Assert.Contains("case0001_slice000.npz", e.Message);
        Assert.Contains("case0001_slice001.npz", e.Message);
        Assert.Null(ResumeCheckpoint.Find(Path.Combine(root, "badslice")));
    }

    [Fact]
    public void ARunFolderIsNeverOverwritten()
    {
        var config = TrainPresets.Smoke with { MaxSteps = 2, SyntheticTrainVolumes = 1, SyntheticTestVolumes = 0 };
        Trainer.Train(config, Quiet("once", evaluate: false));
        var e = Assert.Throws<InvalidOperationException>(() => Trainer.Train(config, Quiet("once", evaluate: false)));
        Assert.Contains("--resume", e.Message);
    }
}
