using System.Diagnostics;
using System.Globalization;
using SAMed.Data;
using SAMed.Evaluation;
using SAMed.Lora;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;
using DataLoader = SAMed.Data.DataLoader;

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

    private sealed class Session(TrainConfig config, string runDirectory, TrainerOptions options, ResumeState? resume)
    {
        private readonly ProgressReporter progress = new(options.Output, options.Interactive, config.LogInterval);

        public TrainResult Run()
        {
            // Promptable mode: its own loop (PromptableTrainer), same data, run folder, checkpoints and resume files.
            if (config.Mode == "promptable")
                return PromptableTrainer.Run(config, runDirectory, options, resume);
            var data = LocateData(config, runDirectory);
            if (data.TrainNames.Count == 0)
                throw new InvalidDataException($"{data.Layout.TrainListPath}: the training list names no slices");
            var report = DatasetValidator.Validate(data.Layout, config.NumClasses, data.Parts);
            report.ThrowIfInvalid();
            progress.Message($"data: {report.Summary}");
            foreach (var warning in report.Warnings.Take(5))
                progress.Message(warning.ToString());

            if (config.Threads > 0)
                torch.set_num_threads(config.Threads);
            var device = TorchDevices.Parse(config.Device);
            TrainingPrecision.ConfigureBackends(config);
            using var model = TrainingModel.Create(config, device);
            var trainable = model.TrainableParameters().Select(t => (t.name, t.p)).ToList();
            double frozenChecksum = ResumeCheckpoint.FrozenChecksum(TrainingModel.Frozen(model));

            int imageSize = config.ImgSize;
            int lowRes = model.Sam.Config.ImageEmbeddingSize * 4;
            var dataset = new SynapseDataset(data.Layout.TrainDir, data.Layout.TrainListPath, new RandomGenerator(imageSize, lowRes),
                new SynapseDatasetOptions(Preload: config.SyntheticData, NumClasses: config.NumClasses));
            var loader = new DataLoader(dataset, new DataLoaderOptions(
                config.EffectiveBatchSize, Seed: (ulong)config.Seed, Workers: Math.Max(1, config.NumWorkers), Prefetch: Math.Max(2, config.NumWorkers)));
            int perEpoch = loader.BatchesPerEpoch;
            long maxIterations = (long)config.MaxEpochs * perEpoch;
            int epochs = Math.Min(config.MaxEpochs, config.StopEpoch);
            long totalSteps = Math.Min((long)epochs * perEpoch, config.MaxSteps ?? long.MaxValue);

            var schedule = new LearningRateSchedule(config.BaseLr, config.Warmup, config.WarmupPeriod, maxIterations, config.LrExponent);
            using var optimizer = OptimizerFactory.Create(config, trainable.Select(t => t.p), schedule.Initial);
            var loss = new SamedLoss(config.NumClasses + 1, config.DiceWeight);

            long iteration = 0;
            int startEpoch = 0, startBatch = 0;
            double elapsedBefore = 0;
            if (resume is not null)
            {
                if (Math.Abs(resume.FrozenChecksum - frozenChecksum) > 1e-9 * Math.Max(1, Math.Abs(frozenChecksum)))
                    throw new InvalidDataException($"{runDirectory}: the frozen weights differ from the interrupted run's (checksum {frozenChecksum:R} vs {resume.FrozenChecksum:R}); was the SAM checkpoint changed?");
                ResumeCheckpoint.Restore(runDirectory, resume, trainable, optimizer);
                (iteration, startEpoch, startBatch, elapsedBefore) = (resume.Iteration, resume.Epoch, resume.BatchInEpoch, resume.ElapsedSeconds);
                progress.Message($"resuming {runDirectory} after iteration {iteration} (epoch {startEpoch}, batch {startBatch})");
            }
            else
            {
                progress.Message($"run folder: {runDirectory}");
            }
            progress.Message(string.Create(CultureInfo.InvariantCulture,
                $"model {config.VitName} img {imageSize} rank {config.Rank} {config.Precision}: {model.TrainableParameterCount():N0} trainable parameters; {dataset.Count} slices, {perEpoch} iterations per epoch, {totalSteps} iterations on {config.Device}"));

            string logPath = Path.Combine(runDirectory, LogFile);
            using var log = resume is null ? TrainingLog.Create(logPath) : TrainingLog.Continue(logPath, iteration);
            using var board = new TensorBoardWriter(Path.Combine(runDirectory, "log"));
            var steps = new List<StepRecord>();
            var clock = Stopwatch.StartNew();
            string loraPath = "";
            int lastEpoch = (int)(Math.Max(0, iteration - 1) / perEpoch);

            Tensor? previewMasks = null;
            bool capturePreview = false;
            // SAMed previews batch element 1; under accumulation the first micro-batch's forward supplies it.
            int previewIndex = Math.Min(1, config.EffectiveBatchSize / config.GradAccumSteps - 1);
            Tensor Forward(Tensor images)
            {
                var (lowRes, iou) = model.ForwardLowRes(images, multimaskOutput: true);
                iou.Dispose();
                if (capturePreview)
                {
                    capturePreview = false;
                    using var noGrad = torch.no_grad();
                    using var scope = torch.NewDisposeScope();
                    int index = (int)Math.Min(previewIndex, images.shape[0] - 1);
                    var masks = model.Sam.PostprocessMasks(lowRes.detach()[index..(index + 1)], (imageSize, imageSize), (imageSize, imageSize));
                    previewMasks = masks[0].argmax(0).cpu().DetachFromDisposeScope();
                }
                return lowRes;
            }
            var step = new TrainingStep(Forward, loss, optimizer, config.GradAccumSteps);

            void SaveResume(int nextEpoch, int nextBatch) => ResumeCheckpoint.Save(runDirectory, new ResumeState
            {
                Iteration = iteration,
                Epoch = nextEpoch,
                BatchInEpoch = nextBatch,
                Lr = optimizer.LearningRate,
                ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds,
                FrozenChecksum = frozenChecksum,
                TorchRngState = ResumeCheckpoint.CaptureTorchRng(),
            }, trainable, optimizer);

            model.train();
            for (int epoch = startEpoch; epoch < epochs && iteration < totalSteps; epoch++)
            {
                lastEpoch = epoch;
                foreach (var batch in loader.Epoch(epoch, epoch == startEpoch ? startBatch : 0, options.Cancellation))
                {
                    using (batch)
                    using (GcPause.Begin())
                    using (var scope = NewDisposeScope())
                    {
                        var images = batch.Image.to(device);
                        var labels = batch.LowResLabel.to(device);
                        double lr = optimizer.LearningRate;
                        capturePreview = (iteration + 1) % config.PreviewInterval == 0;
                        var started = clock.Elapsed;
                        var losses = step.Run(images, labels);
                        double seconds = (clock.Elapsed - started).TotalSeconds;
                        double nextLr = schedule.AfterStep(iteration);
                        optimizer.LearningRate = nextLr;
                        iteration++;

                        var record = new StepRecord(iteration, epoch, lr, losses.Loss, losses.CrossEntropy, losses.Dice,
                            batch.Count / Math.Max(seconds, 1e-9), elapsedBefore + clock.Elapsed.TotalSeconds);
                        steps.Add(record);
                        log.Append(record);
                        // As trainer.py: info/lr is the rate just set for the next step, logged at the new iter_num.
                        board.AddScalar("info/lr", nextLr, iteration);
                        board.AddScalar("info/total_loss", losses.Loss, iteration);
                        board.AddScalar("info/loss_ce", losses.CrossEntropy, iteration);
                        board.AddScalar("info/loss_dice", losses.Dice, iteration);
                        if (previewMasks is not null)
                        {
                            WritePreview(board, batch, previewMasks, (int)Math.Min(previewIndex, batch.Count - 1), iteration);
                            previewMasks.Dispose();
                            previewMasks = null;
                        }
                        board.Flush();
                        double perStep = clock.Elapsed.TotalSeconds / Math.Max(1, steps.Count);
                        progress.Report(record, totalSteps, epochs, TimeSpan.FromSeconds(perStep * (totalSteps - iteration)));

                        bool endOfEpoch = batch.Index + 1 == perEpoch;
                        if (iteration % config.ResumeInterval == 0)
                            SaveResume(endOfEpoch ? epoch + 1 : epoch, endOfEpoch ? 0 : batch.Index + 1);
                    }
                    options.AfterStep?.Invoke(iteration);
                    if (iteration >= totalSteps)
                        break;
                }
                bool epochComplete = iteration == (long)(epoch + 1) * perEpoch;
                if (epochComplete && (epoch + 1) % config.SaveInterval == 0)
                {
                    loraPath = SaveLora(model, epoch);
                    SaveResume(epoch + 1, 0);
                }
            }

            if (loraPath.Length == 0 || !loraPath.EndsWith($"epoch_{lastEpoch}.pth", StringComparison.Ordinal))
                loraPath = SaveLora(model, lastEpoch);
            var (nextEpoch, nextBatch) = iteration % perEpoch == 0 ? ((int)(iteration / perEpoch), 0) : (lastEpoch, (int)(iteration % perEpoch));
            SaveResume(nextEpoch, nextBatch);
            var trainingTime = TimeSpan.FromSeconds(elapsedBefore + clock.Elapsed.TotalSeconds);
            progress.Message(string.Create(CultureInfo.InvariantCulture, $"trained {iteration} iterations in {trainingTime.TotalSeconds:F1} s; LoRA checkpoint {loraPath}"));

            EvaluationReport? heldOut = null;
            if (options.Evaluate && data.TestNames.Count > 0)
            {
                heldOut = HeldOutEvaluation.Evaluate(model, config.NumClasses, data.Layout.TestDir, data.TestNames, Math.Max(1, config.EffectiveBatchSize));
                EvaluationCsv.Write(Path.Combine(runDirectory, EvaluationFile), heldOut);
                progress.Message(string.Create(CultureInfo.InvariantCulture,
                    $"held-out ({heldOut.Cases.Count} volumes): mean Dice {heldOut.MeanDice:F4}, mean HD95 {heldOut.MeanHd95:F2} {heldOut.DistanceUnit}"));
            }
            return new TrainResult(runDirectory, iteration, perEpoch, steps, loraPath, heldOut, trainingTime);
        }

        private string SaveLora(LoraSam model, int epoch)
        {
            string path = Path.Combine(runDirectory, $"epoch_{epoch}.pth");
            model.SaveLora(path);
            progress.Message($"save model to {path}");
            return path;
        }

        /// <summary>SAMed's image summaries of batch element 1: the image scaled to [0, 1], prediction and label times 50.</summary>
        private static void WritePreview(TensorBoardWriter board, Batch batch, Tensor prediction, int index, long iteration)
        {
            using var scope = NewDisposeScope();
            var image = batch.Image[index, 0];
            var low = image.min();
            var range = image.max() - low;
            var normalized = range.item<float>() > 0 ? (image - low) / range : image - low;
            int height = (int)image.shape[0], width = (int)image.shape[1];
            board.AddImage("train/Image", ToBytes(normalized, 255), width, height, iteration);
            board.AddImage("train/Prediction", ToBytes(prediction, 50), (int)prediction.shape[1], (int)prediction.shape[0], iteration);
            board.AddImage("train/GroundTruth", ToBytes(batch.Label[index], 50), width, height, iteration);
        }

        private static byte[] ToBytes(Tensor values, double scale) =>
            ScalarMath.Clamp(ScalarMath.Times(values.to_type(ScalarType.Float32), scale), 0, 255).to_type(ScalarType.Byte).contiguous().data<byte>().ToArray();
    }
}
