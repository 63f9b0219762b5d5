using System.Diagnostics;
using System.Globalization;
using SAMed.Adaptation;
using SAMed.Checkpoints;
using SAMed.Data;
using SAMed.Evaluation;
using SAMed.Inference;
using SAMed.Lora;
using SAMed.Modeling;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;
using DataLoader = SAMed.Data.DataLoader;

namespace SAMed.Training;

/// <summary>
/// Training in the promptable mode (config mode: promptable), MedSAM's and SAM-Med2D's recipe on SAMed's data
/// pipeline: the model is the official SAM (3 multimask outputs + IoU head; a SAM or MedSAM checkpoint is loaded
/// completely) with LoRA on the frozen encoder; every slice of a batch is embedded once, and every class present on
/// it becomes a binary target with a prompt drawn from it each step (<see cref="PromptSampler"/>: a jittered box, or
/// points). Box prompts and several points give one mask; a lone point gives three and the loss takes the best.
/// The loss is <see cref="PromptableLoss"/> (Dice with squared terms + BCE, mean over samples, + the IoU head's MSE)
/// on the low-res logits against the low-res label; the optimizer, schedule, logs, checkpoints and resume files
/// are the semantic mode's. Held-out volumes are evaluated with box prompts from their ground truth.
/// </summary>
public static class PromptableTrainer
{
    /// <summary>The promptable SAM of a configuration, LoRA-wrapped, seeded, loaded, in its precision, on the device.</summary>
    public static AdaptedSam CreateModel(TrainConfig config, Device device) =>
        ModelFactory.Create(Spec(config), config.SamCheckpoint, config.LoraCheckpoint, device);

    /// <summary>The configuration's model in the promptable mode: the official SAM architecture (3 multimask outputs, IoU head).</summary>
    public static ModelSpec Spec(TrainConfig config)
    {
        var architecture = PromptableSam.Config(config.VitName, config.ImgSize, unitInputs: false);
        return config.Model with
        {
            Mode = ModelSpec.PromptableMode,
            Custom = architecture,
            NumClasses = architecture.NumClasses,
            PixelMean = architecture.PixelMean,
            PixelStd = architecture.PixelStd,
        };
    }

    internal static TrainResult Run(TrainConfig config, string runDirectory, TrainerOptions options, ResumeState? resume)
    {
        var progress = new ProgressReporter(options.Output, options.Interactive, config.LogInterval);
        var data = Trainer.LocateData(config, runDirectory);
        if (data.TrainNames.Count == 0)
            throw new InvalidDataException($"{data.Layout.TrainListPath}: the training list names no slices");
        var report = DatasetValidator.Validate(data.Layout, config.NumClasses, data.Parts);
        report.ThrowIfInvalid();
        progress.Message($"data: {report.Summary}");

        if (config.Threads > 0)
            torch.set_num_threads(config.Threads);
        var device = TorchDevices.Parse(config.Device);
        TrainingPrecision.ConfigureBackends(config.Device, config.AllowTf32, config.Deterministic);
        using var model = CreateModel(config, device);
        var promptable = new PromptableSam(model.Sam);
        var trainable = model.TrainableParameters().Select(t => (t.name, t.p)).ToList();
        double frozenChecksum = ResumeCheckpoint.FrozenChecksum(model.FrozenParameters());

        int imageSize = config.ImgSize;
        var dataset = new SynapseDataset(data.Layout.TrainDir, data.Layout.TrainListPath, new RandomGenerator(imageSize, promptable.LowResSize),
            new SynapseDatasetOptions(Preload: config.SyntheticData, NumClasses: config.NumClasses));
        var loader = new DataLoader(dataset, new DataLoaderOptions(
            config.EffectiveBatchSize, Seed: (ulong)config.Seed, Workers: Math.Max(1, config.NumWorkers), Prefetch: Math.Max(2, config.NumWorkers)));
        int perEpoch = loader.BatchesPerEpoch;
        long maxIterations = (long)config.MaxEpochs * perEpoch;
        int epochs = Math.Min(config.MaxEpochs, config.StopEpoch);
        long totalSteps = Math.Min((long)epochs * perEpoch, config.MaxSteps ?? long.MaxValue);
        var schedule = new LearningRateSchedule(config.BaseLr, config.Warmup, config.WarmupPeriod, maxIterations, config.LrExponent);
        using var optimizer = OptimizerFactory.Create(config, trainable.Select(t => t.p), schedule.Initial);

        long iteration = 0;
        int startEpoch = 0, startBatch = 0;
        double elapsedBefore = 0;
        if (resume is not null)
        {
            if (Math.Abs(resume.FrozenChecksum - frozenChecksum) > 1e-9 * Math.Max(1, Math.Abs(frozenChecksum)))
                throw new InvalidDataException($"{runDirectory}: the frozen weights differ from the interrupted run's; was the SAM checkpoint changed?");
            ResumeCheckpoint.Restore(runDirectory, resume, trainable, optimizer);
            (iteration, startEpoch, startBatch, elapsedBefore) = (resume.Iteration, resume.Epoch, resume.BatchInEpoch, resume.ElapsedSeconds);
            progress.Message($"resuming {runDirectory} after iteration {iteration} (epoch {startEpoch}, batch {startBatch})");
        }
        else
        {
            progress.Message($"run folder: {runDirectory}");
        }
        progress.Message(string.Create(CultureInfo.InvariantCulture,
            $"promptable {config.VitName} img {imageSize}, {model.Strategy}{(model is Lora.LoraSam l ? $" rank {l.Rank}" : "")}, {config.PromptKind} prompts: {model.TrainableParameterCount():N0} trainable parameters; {dataset.Count} slices, {perEpoch} iterations per epoch, {totalSteps} iterations on {config.Device}"));

        string logPath = Path.Combine(runDirectory, Trainer.LogFile);
        using var log = resume is null ? TrainingLog.Create(logPath) : TrainingLog.Continue(logPath, iteration);
        using var board = new TensorBoardWriter(Path.Combine(runDirectory, "log"));
        var step = new PromptableStep(promptable, config);
        var steps = new List<StepRecord>();
        var clock = Stopwatch.StartNew();
        string loraPath = "";
        int lastEpoch = (int)(Math.Max(0, iteration - 1) / perEpoch);

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

        string SaveLora(int epoch)
        {
            string path = Path.Combine(runDirectory, $"epoch_{epoch}.pth");
            model.SaveCheckpoint(path);
            progress.Message($"save model to {path}");
            return path;
        }

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
                    double lr = optimizer.LearningRate;
                    var started = clock.Elapsed;
                    optimizer.ZeroGrad();
                    var losses = step.Backward(batch, device, PromptableStep.PromptRandom(config.Seed, iteration));
                    if (losses is not null)
                        optimizer.Step();
                    double seconds = (clock.Elapsed - started).TotalSeconds;
                    double nextLr = schedule.AfterStep(iteration);
                    optimizer.LearningRate = nextLr;
                    iteration++;

                    var values = losses ?? new PromptableLosses(0, 0, 0, 0);
                    var record = new StepRecord(iteration, epoch, lr, values.Loss, values.Bce, values.Dice,
                        batch.Count / Math.Max(seconds, 1e-9), elapsedBefore + clock.Elapsed.TotalSeconds);
                    steps.Add(record);
                    log.Append(record);
                    board.AddScalar("info/lr", nextLr, iteration);
                    board.AddScalar("info/total_loss", values.Loss, iteration);
                    board.AddScalar("info/loss_bce", values.Bce, iteration);
                    board.AddScalar("info/loss_dice", values.Dice, iteration);
                    board.AddScalar("info/loss_iou", values.Iou, iteration);
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
                loraPath = SaveLora(epoch);
                SaveResume(epoch + 1, 0);
            }
        }

        if (loraPath.Length == 0 || !loraPath.EndsWith($"epoch_{lastEpoch}.pth", StringComparison.Ordinal))
            loraPath = SaveLora(lastEpoch);
        var (nextEpoch, nextBatch) = iteration % perEpoch == 0 ? ((int)(iteration / perEpoch), 0) : (lastEpoch, (int)(iteration % perEpoch));
        SaveResume(nextEpoch, nextBatch);
        var trainingTime = TimeSpan.FromSeconds(elapsedBefore + clock.Elapsed.TotalSeconds);
        progress.Message(string.Create(CultureInfo.InvariantCulture, $"trained {iteration} iterations in {trainingTime.TotalSeconds:F1} s; checkpoint {loraPath}"));

        EvaluationReport? heldOut = null;
        if (options.Evaluate && data.TestNames.Count > 0)
        {
            heldOut = EvaluateHeldOut(model, config.NumClasses, data.Layout.TestDir, data.TestNames, EvaluationPrompt.Box);
            EvaluationCsv.Write(Path.Combine(runDirectory, Trainer.EvaluationFile), heldOut);
            progress.Message(string.Create(CultureInfo.InvariantCulture,
                $"held-out ({heldOut.Cases.Count} volumes, box prompts): mean Dice {heldOut.MeanDice:F4}, mean HD95 {heldOut.MeanHd95:F2} {heldOut.DistanceUnit}"));
        }
        return new TrainResult(runDirectory, iteration, perEpoch, steps, loraPath, heldOut, trainingTime);
    }

    /// <summary>The held-out volumes segmented with prompts from their ground truth (<see cref="PromptedVolumeTester"/>).</summary>
    public static EvaluationReport EvaluateHeldOut(AdaptedSam model, int numClasses, string volumeDirectory, IReadOnlyList<string> names, EvaluationPrompt prompt)
    {
        var volumes = names.Select(name =>
        {
            string path = Path.Combine(volumeDirectory, name + ".npy.h5");
            return VolumeTestItem.H5(name, path);
        }).ToList();
        var device = model.Sam.parameters().First().device;
        // Not disposed: the model belongs to the trainer.
        var promptable = new PromptableModel(model.Sam, model, device, "in-memory promptable model");
        try
        {
            return new PromptedVolumeTester(promptable, new VolumeTestOptions { NumClasses = numClasses }, prompt).Run(volumes);
        }
        finally
        {
            model.train();
        }
    }
}
