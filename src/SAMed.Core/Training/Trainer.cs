using System.Globalization;
using SAMed.Data;
using SAMed.Evaluation;

namespace SAMed.Training;

/// <summary>How a run reports and where it lives; the defaults print to the console.</summary>
public sealed record TrainerOptions
{
    public TextWriter Output { get; init; } = Console.Out;

    /// <summary>Redraw one progress line in place (a terminal) instead of printing a line every log_interval steps.</summary>
    public bool Interactive { get; init; } = !Console.IsOutputRedirected;

    /// <summary>The run folder; null: a new folder under the config's output, named as SAMed names its snapshots.</summary>
    public string? RunDirectory { get; init; }

    /// <summary>Evaluate the held-out volumes after training.</summary>
    public bool Evaluate { get; init; } = true;

    /// <summary>Called after every optimizer step with the number of steps done (tests interrupt runs here).</summary>
    public Action<long>? AfterStep { get; init; }

    public CancellationToken Cancellation { get; init; }
}

/// <summary>What a finished run produced.</summary>
public sealed record TrainResult(
    string RunDirectory,
    long Iterations,
    long IterationsPerEpoch,
    IReadOnlyList<StepRecord> Steps,
    string LoraCheckpoint,
    EvaluationReport? HeldOut,
    TimeSpan TrainingTime);

/// <summary>
/// SAMed's trainer_synapse: validates the data, builds the model, and trains with AdamW (or SGD), SAMed's loss and
/// learning-rate schedule; logs every step (CSV, TensorBoard, console), saves SAMed LoRA checkpoints every
/// save_interval epochs and at the end, resume checkpoints every resume_interval steps, and evaluates the held-out
/// volumes at the end.
/// </summary>
public static class Trainer
{
    public const string ConfigFile = "config.json";
    public const string LogFile = "train_log.csv";
    public const string EvaluationFile = "heldout_metrics.csv";

    /// <summary>Starts a new run.</summary>
    /// <param name="source">Names the configuration in error messages (e.g. its file).</param>
    public static TrainResult Train(TrainConfig config, TrainerOptions? options = null, string source = "configuration")
    {
        options ??= new TrainerOptions();
        TrainConfigFile.Check(config, source);
        string runDirectory = Path.GetFullPath(options.RunDirectory ?? NewRunDirectory(config));
        if (ResumeCheckpoint.Find(runDirectory) is not null)
            throw new InvalidOperationException($"{runDirectory}: already holds a run; continue it with --resume {runDirectory} or choose another folder");
        Directory.CreateDirectory(runDirectory);
        TrainConfigFile.Save(config, Path.Combine(runDirectory, ConfigFile));
        return new Session(config, runDirectory, options, resume: null).Run();
    }

    /// <summary>Continues a run from its latest resume checkpoint, with the configuration saved in its folder.</summary>
    public static TrainResult Resume(string runDirectory, TrainerOptions? options = null)
    {
        options ??= new TrainerOptions();
        runDirectory = Path.GetFullPath(runDirectory);
        string configPath = Path.Combine(runDirectory, ConfigFile);
        var config = TrainConfigFile.Load(configPath);
        TrainConfigFile.Check(config, configPath);
        var state = ResumeCheckpoint.Find(runDirectory)
            ?? throw new InvalidOperationException($"{runDirectory}: no resume checkpoint ({ResumeCheckpoint.PointerFile}) to continue from");
        return new Session(config, runDirectory, options, state).Run();
    }

    /// <summary>SAMed's snapshot name (Synapse_512_pretrain_vit_b_epo200_bs12_lr0.005) plus a time stamp.</summary>
    public static string NewRunDirectory(TrainConfig c)
    {
        string name = string.Create(CultureInfo.InvariantCulture,
            $"Synapse_{c.ImgSize}_pretrain_{c.VitName}_epo{c.MaxEpochs}_bs{c.BatchSize}_lr{c.BaseLr}");
        if (c.Seed != 1234)
            name += $"_s{c.Seed}";
        return Path.Combine(c.Output, $"{name}_{DateTime.UtcNow:yyyyMMdd-HHmmss}");
    }

    /// <summary>Where the training slices and held-out volumes of a run are (no held-out volumes: TestNames is empty).</summary>
    public sealed record DataFiles(SynapseLayout Layout, IReadOnlyList<string> TrainNames, IReadOnlyList<string> TestNames)
    {
        public ValidationParts Parts => TestNames.Count > 0 ? ValidationParts.All : ValidationParts.Train;
    }

    /// <summary>
    /// The run's data: synthetic volumes generated into RUN/data (once; they are a pure function of the config),
    /// or SAMed's root_path (train_npz), list_dir (train.txt, test_vol.txt) and, when set, volume_path (test_vol_h5).
    /// </summary>
    public static DataFiles LocateData(TrainConfig config, string runDirectory)
    {
        if (config.SyntheticData)
        {
            string root = Path.Combine(runDirectory, "data");
            var synthetic = new SynapseLayout(root, Path.Combine(root, "lists"));
            if (!File.Exists(synthetic.TrainListPath))
            {
                SyntheticDataset.Write(synthetic, new SyntheticOptions
                {
                    NumClasses = config.NumClasses,
                    TrainCases = config.SyntheticTrainVolumes,
                    TestCases = config.SyntheticTestVolumes,
                    Height = config.SyntheticSize,
                    Width = config.SyntheticSize,
                    MinSlices = config.SyntheticSlices,
                    MaxSlices = config.SyntheticSlices,
                    Seed = config.Seed,
                });
            }
            return new DataFiles(synthetic, synthetic.ReadTrainNames(), File.Exists(synthetic.TestListPath) ? synthetic.ReadTestNames() : []);
        }
        var layout = SynapseLayout.FromSamedPaths(config.RootPath!, config.ListDir!, config.VolumePath);
        return new DataFiles(layout, layout.ReadTrainNames(), config.VolumePath is null ? [] : layout.ReadTestNames());
    }

    /// <summary>One training session: setup, the epoch loop, the end-of-training checkpoint and the held-out evaluation.</summary>
    private sealed class Session(TrainConfig config, string runDirectory, TrainerOptions options, ResumeState? resume)
    {
        private readonly ProgressReporter progress = new(options.Output, options.Interactive, config.LogInterval);

        public TrainResult Run()
        {
            var data = TrainingSetup.CheckData(config, runDirectory, progress);
            var plan = StepPlan.For(config, data.TrainNames.Count);
            using var setup = TrainingSetup.Create(config, runDirectory, data, plan, resume);
            progress.Message(resume is null
                ? $"run folder: {runDirectory}"
                : $"resuming {runDirectory} after iteration {resume.Iteration} (epoch {resume.Epoch}, batch {resume.BatchInEpoch})");
            progress.Message(setup.Describe());

            using var logger = RunLogger.Open(runDirectory, plan, progress, resume?.Iteration);
            var clock = new TrainingClock(setup.ElapsedBefore);
            var checkpoints = new CheckpointPolicy(config, runDirectory, plan, setup.SaveModel, iteration => setup.SaveResume(iteration, clock.Seconds), progress);
            var loop = new EpochLoop(setup, clock, logger, checkpoints, options);
            loop.Run();

            string checkpoint = checkpoints.AtEnd(loop.Iteration);
            var trainingTime = TimeSpan.FromSeconds(clock.Seconds);
            progress.Message(string.Create(CultureInfo.InvariantCulture, $"trained {loop.Iteration} iterations in {trainingTime.TotalSeconds:F1} s; LoRA checkpoint {checkpoint}"));
            var heldOut = options.Evaluate && data.TestNames.Count > 0 ? EvaluateHeldOut(setup) : null;
            return new TrainResult(runDirectory, loop.Iteration, plan.IterationsPerEpoch, logger.Steps, checkpoint, heldOut, trainingTime);
        }

        private EvaluationReport EvaluateHeldOut(TrainingSetup setup)
        {
            var heldOut = setup.EvaluateHeldOut();
            EvaluationCsv.Write(Path.Combine(runDirectory, EvaluationFile), heldOut);
            progress.Message(string.Create(CultureInfo.InvariantCulture,
                $"held-out ({heldOut.Cases.Count} volumes): mean Dice {heldOut.MeanDice:F4}, mean HD95 {heldOut.MeanHd95:F2} {heldOut.DistanceUnit}"));
            return heldOut;
        }
    }
}
