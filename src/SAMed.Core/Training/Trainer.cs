using System.Globalization;
using SAMed.Adaptation;
using SAMed.Data;
using SAMed.Evaluation;
using SAMed.Training.Parallel;

namespace SAMed.Training;

/// <summary>How a run reports and where it lives; the defaults print to the console.</summary>
public sealed record TrainerOptions
{
    public TextWriter Output { get; init; } = Console.Out;

    /// <summary>Redraw one progress line in place (a terminal) instead of printing a line every log_interval steps.</summary>
    public bool Interactive { get; init; } = !Console.IsOutputRedirected;

    /// <summary>The run folder; null: a new folder under the config's output, named as SAMed names its snapshots.</summary>
    public string? RunDirectory { get; init; }

    /// <summary>Evaluate the held-out volumes (after training, and every eval_interval epochs when set).</summary>
    public bool Evaluate { get; init; } = true;

    /// <summary>Called after every optimizer step with the number of steps done (tests interrupt runs here).</summary>
    public Action<long>? AfterStep { get; init; }

    /// <summary>
    /// Data-parallel runs: called on a replica's thread with the replica's index before each of its forwards (tests
    /// make a device fail here; an exception stops the run as a failing device does).
    /// </summary>
    public Action<int>? BeforeReplicaForward { get; init; }

    /// <summary>
    /// Stops training cleanly: the current step finishes, the resume state is written, the result says
    /// <see cref="TrainOutcome.Interrupted"/> (the program turns SIGINT/SIGTERM into this).
    /// </summary>
    public CancellationToken Cancellation { get; init; }
}

public enum TrainOutcome
{
    /// <summary>Every planned step was done (this session, or with earlier ones).</summary>
    Completed,

    /// <summary>Stopped by <see cref="TrainerOptions.Cancellation"/>; continue with <see cref="Trainer.Resume"/>.</summary>
    Interrupted,

    /// <summary>A resume of a run that had already done every planned step; nothing was trained or written.</summary>
    AlreadyFinished,
}

/// <summary>What a session produced. LoraCheckpoint is the run's latest epoch_N.pth ("" when an interrupted session wrote none).</summary>
public sealed record TrainResult(
    string RunDirectory,
    long Iterations,
    long IterationsPerEpoch,
    IReadOnlyList<StepRecord> Steps,
    string LoraCheckpoint,
    EvaluationReport? HeldOut,
    TimeSpan TrainingTime,
    TrainOutcome Outcome = TrainOutcome.Completed);

/// <summary>
/// SAMed's trainer_synapse: validates the data, builds the model, and trains with AdamW (or SGD), SAMed's loss and
/// learning-rate schedule; logs every step (CSV, TensorBoard, console and log.txt, progress.png), saves SAMed LoRA
/// checkpoints every save_interval epochs and at the end, resume checkpoints every resume_interval steps, and
/// evaluates the held-out volumes at the end (and every eval_interval epochs when set, keeping best.pth). The
/// promptable mode runs the same session with its own step and held-out evaluation (<see cref="PromptableStep"/>,
/// <see cref="PromptedHeldOut"/>, chosen by <see cref="TrainingSetup"/>).
/// </summary>
public static class Trainer
{
    public const string ConfigFile = "config.json";
    public const string LogFile = "train_log.csv";
    public const string EvaluationFile = "heldout_metrics.csv";
    public const string TranscriptFile = "log.txt";

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

    /// <summary>
    /// SAMed's snapshot name (Synapse_512_pretrain_vit_b_epo200_bs12_lr0.005) plus a time stamp. The batch is the
    /// images a step sees: bs8, or bs12x2 for batch_size 12 with n_gpu 2 (24 images per step).
    /// </summary>
    public static string NewRunDirectory(TrainConfig c)
    {
        string batch = c.NGpu == 1 ? $"{c.BatchSize}" : $"{c.BatchSize}x{c.NGpu}";
        string name = string.Create(CultureInfo.InvariantCulture,
            $"Synapse_{c.ImgSize}_pretrain_{c.VitName}_epo{c.MaxEpochs}_bs{batch}_lr{c.BaseLr}");
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

    /// <summary>
    /// One training session: the finished-run check, setup, the epoch loop, then the end-of-training checkpoint and
    /// held-out evaluation (or, when interrupted, the resume state and the line to continue with). Everything the
    /// console shows is also appended to the run's log.txt.
    /// </summary>
    private sealed class Session(TrainConfig config, string runDirectory, TrainerOptions options, ResumeState? resume)
    {
        private readonly ProgressReporter progress = new(options.Output, options.Interactive, config.LogInterval)
        {
            FirstLossName = config.Mode == ModelSpec.PromptableMode ? "bce" : "ce",
        };

        public TrainResult Run()
        {
            var data = LocateData(config, runDirectory);
            var plan = StepPlan.For(config, data.TrainNames.Count);
            if (resume is not null && resume.Iteration >= plan.TotalSteps)
                return AlreadyFinished(plan, resume);

            using var transcript = new StreamWriter(Path.Combine(runDirectory, TranscriptFile), append: true);
            progress.Transcript = transcript;
            try
            {
                return Train(data, plan);
            }
            catch (Exception e)
            {
                progress.RecordOnly($"error: {e.Message}");
                throw;
            }
            finally
            {
                progress.Transcript = null;
            }
        }

        private TrainResult Train(DataFiles data, StepPlan plan)
        {
            progress.Message(resume is null
                ? $"run folder: {runDirectory}"
                : $"resuming {runDirectory} after iteration {resume.Iteration} (epoch {resume.Epoch}, batch {resume.BatchInEpoch})");
            TrainingSetup.CheckData(config, data, progress);
            using var setup = TrainingSetup.Create(config, runDirectory, data, plan, resume, options.BeforeReplicaForward);
            if (StepPlan.BatchNote(config, setup.Devices) is string note)
                progress.Message(note);
            progress.Message(setup.Describe());
            if (setup.DescribeDevices() is string devices)
                progress.Message(devices);

            using var logger = RunLogger.Open(runDirectory, plan, progress, resume?.Iteration);
            var clock = new TrainingClock(setup.ElapsedBefore);
            var checkpoints = new CheckpointPolicy(config, runDirectory, plan, setup.SaveModel, iteration => setup.SaveResume(iteration, clock.Seconds), progress);
            checkpoints.ContinueBest(logger.HeldOut);
            var heldOut = new HeldOutSchedule(config, plan, options.Evaluate && data.TestNames.Count > 0, setup.CreateHeldOutEvaluation(),
                logger, checkpoints, options.Cancellation);
            var loop = new EpochLoop(setup, clock, logger, options, checkpoints.AfterStep, (epoch, iteration) =>
            {
                checkpoints.AfterEpoch(epoch, iteration);
                heldOut.AfterEpoch(epoch, iteration);
                logger.WriteProgressPlot();
            });
            try
            {
                loop.Run();
            }
            catch (ReplicaFailedException e)
            {
                throw e.With(StoppedAt(loop.Iteration));
            }

            return loop.Interrupted
                ? Interrupted(loop.Iteration, plan, checkpoints, logger, clock)
                : Finish(loop.Iteration, plan, checkpoints, heldOut, logger, clock);
        }

        /// <summary>Where a run that stopped on an error is: the steps done and the resume point left on disk.</summary>
        private string StoppedAt(long iteration)
        {
            var saved = ResumeCheckpoint.Find(runDirectory);
            return saved is null
                ? $"the run stopped after iteration {iteration} with no resume point saved yet; start it again"
                : $"the run stopped after iteration {iteration}; its last resume point (iteration {saved.Iteration}) is intact: train --resume {runDirectory}";
        }

        /// <summary>Training done: the last checkpoint and resume state, the held-out evaluation, the final progress.png.</summary>
        private TrainResult Finish(long iteration, StepPlan plan, CheckpointPolicy checkpoints, HeldOutSchedule heldOut, RunLogger logger, TrainingClock clock)
        {
            string checkpoint = checkpoints.AtEnd(iteration);
            var trainingTime = TimeSpan.FromSeconds(clock.Seconds);
            progress.Message(string.Create(CultureInfo.InvariantCulture, $"trained {iteration} iterations in {trainingTime.TotalSeconds:F1} s; checkpoint {checkpoint}"));
            EvaluationReport? report = null;
            if (heldOut.Enabled && options.Cancellation.IsCancellationRequested)
            {
                progress.Message("held-out evaluation skipped (interrupted); the `test` command evaluates the checkpoint");
            }
            else if (heldOut.Enabled)
            {
                report = heldOut.Evaluate(iteration);
                EvaluationCsv.Write(Path.Combine(runDirectory, EvaluationFile), report);
            }
            logger.WriteProgressPlot(now: true);
            return new TrainResult(runDirectory, iteration, plan.IterationsPerEpoch, logger.Steps, checkpoint, report, trainingTime);
        }

        private TrainResult Interrupted(long iteration, StepPlan plan, CheckpointPolicy checkpoints, RunLogger logger, TrainingClock clock)
        {
            checkpoints.Interrupted(iteration);
            logger.WriteProgressPlot(now: true);
            progress.Message($"interrupted after iteration {iteration} of {plan.TotalSteps}; the resume state is saved. Continue with:");
            progress.Message($"  train --resume {runDirectory}");
            return new TrainResult(runDirectory, iteration, plan.IterationsPerEpoch, logger.Steps, checkpoints.LastModel, null,
                TimeSpan.FromSeconds(clock.Seconds), TrainOutcome.Interrupted);
        }

        /// <summary>A finished run resumed: says so and writes nothing.</summary>
        private TrainResult AlreadyFinished(StepPlan plan, ResumeState state)
        {
            string checkpoint = Path.Combine(runDirectory, CheckpointPolicy.EpochFile(plan.EpochOf(state.Iteration)));
            string evaluation = Path.Combine(runDirectory, EvaluationFile);
            progress.Message($"{runDirectory}: finished ({state.Iteration} of {plan.TotalSteps} iterations); nothing to resume, nothing written.");
            progress.Message(File.Exists(evaluation)
                ? $"last checkpoint {checkpoint}; held-out metrics in {evaluation}"
                : $"last checkpoint {checkpoint}");
            return new TrainResult(runDirectory, state.Iteration, plan.IterationsPerEpoch, [], checkpoint, null,
                TimeSpan.FromSeconds(state.ElapsedSeconds), TrainOutcome.AlreadyFinished);
        }
    }
}
