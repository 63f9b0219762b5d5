using System.Globalization;
using SAMed.Adaptation;
using SAMed.Data;
using SAMed.Modeling;
using SAMed.TorchInterop;
using SAMed.Training.Parallel;
using SAMed.VolumeTesting;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using DataLoader = SAMed.Data.DataLoader;

namespace SAMed.Training;

/// <summary>
/// How many steps a run makes. SAMed's schedule runs over max_iterations = max_epochs * len(trainloader) while
/// training stops at stop_epoch (or after max_steps); iterations are counted from 1, as SAMed's iter_num after a step.
/// </summary>
public sealed record StepPlan(int IterationsPerEpoch, int Epochs, long TotalSteps, long ScheduleIterations)
{
    public static StepPlan For(TrainConfig config, int trainingSlices)
    {
        int perEpoch = DataLoader.BatchCount(trainingSlices, config.EffectiveBatchSize, dropLast: false);
        int epochs = Math.Min(config.MaxEpochs, config.StopEpoch);
        return new StepPlan(perEpoch, epochs, Math.Min((long)epochs * perEpoch, config.MaxSteps ?? long.MaxValue), (long)config.MaxEpochs * perEpoch);
    }

    /// <summary>The epoch the step after <paramref name="iteration"/> belongs to, and how many of its batches are done.</summary>
    public (int Epoch, int Batch) PositionAfter(long iteration) => ((int)(iteration / IterationsPerEpoch), (int)(iteration % IterationsPerEpoch));

    /// <summary>The epoch of step <paramref name="iteration"/> (0 before the first step).</summary>
    public int EpochOf(long iteration) => (int)(Math.Max(0, iteration - 1) / IterationsPerEpoch);

    /// <summary>
    /// What n_gpu &gt; 1 means on one device: SAMed's DataParallel splits each batch of batch_size * n_gpu images over
    /// the GPUs; on one device it computes the whole batch (the same gradient). Null with several devices
    /// (<see cref="TrainingDevices.Describe"/> says how the batch is split) or n_gpu 1.
    /// </summary>
    public static string? BatchNote(TrainConfig c, IReadOnlyList<string>? devices = null) => c.NGpu == 1 || devices?.Count > 1 ? null : string.Create(CultureInfo.InvariantCulture,
        $"n_gpu {c.NGpu}: each step sees batch_size x n_gpu = {c.BatchSize} x {c.NGpu} = {c.EffectiveBatchSize} images, all on one device ({devices?[0] ?? c.Device}; SAMed's DataParallel would split them over {c.NGpu} GPUs, with the same gradient, as devices does here). Set n_gpu 1 for steps of {c.BatchSize} image{(c.BatchSize == 1 ? "" : "s")}.");
}

/// <summary>
/// What a session trains with, built in SAMed's order: torch's threads and device, the model (seeded, so a resume
/// rebuilds the same frozen weights), the loader, the learning-rate schedule and the optimizer (the loss comes with the
/// step: SAMed's in the semantic mode, MedSAM's in the promptable one); on resume
/// the trainable tensors, the optimizer state and torch's RNG are restored. The rest of the trainer reaches the model
/// only through this class (the step, preview masks, save, held-out evaluation, resume state), so the model is
/// created, and its trainable tensors chosen, in one place.
/// </summary>
internal sealed class TrainingSetup : IDisposable
{
    private readonly AdaptedSam model;
    private readonly DataParallel? parallel;
    private readonly List<(string Name, Parameter Parameter)> trainable;
    private readonly double frozenChecksum;
    private readonly string runDirectory;

    private TrainingSetup(TrainConfig config, string runDirectory, Trainer.DataFiles data, StepPlan plan, AdaptedSam model,
        IReadOnlyList<string> devices, DataParallel? parallel)
    {
        Config = config;
        this.runDirectory = runDirectory;
        Data = data;
        Plan = plan;
        this.model = model;
        this.parallel = parallel;
        trainable = model.TrainableParameters().Select(t => (t.name, t.p)).ToList();
        frozenChecksum = ResumeCheckpoint.FrozenChecksum(model.FrozenParameters());
        Devices = devices;
        Device = TorchDevices.Parse(devices[0]);
        var dataset = new SynapseDataset(data.Layout.TrainDir, data.Layout.TrainListPath,
            new RandomGenerator(config.ImgSize, model.Sam.Config.ImageEmbeddingSize * 4),
            new SynapseDatasetOptions(Preload: config.SyntheticData, NumClasses: config.NumClasses));
        Loader = new DataLoader(dataset, new DataLoaderOptions(
            config.EffectiveBatchSize, Seed: (ulong)config.Seed, Workers: Math.Max(1, config.NumWorkers), Prefetch: Math.Max(2, config.NumWorkers)));
        if (Loader.BatchesPerEpoch != plan.IterationsPerEpoch)
            throw new InvalidDataException($"{data.Layout.TrainListPath}: {dataset.Count} slices give {Loader.BatchesPerEpoch} batches, the plan {plan.IterationsPerEpoch}");
        Schedule = new LearningRateSchedule(config.BaseLr, config.Warmup, config.WarmupPeriod, plan.ScheduleIterations, config.LrExponent);
        Optimizer = OptimizerFactory.Create(config, trainable.Select(t => t.Parameter), Schedule.Initial);
    }

    public TrainConfig Config { get; }
    public Trainer.DataFiles Data { get; }
    public StepPlan Plan { get; }
    /// <summary>The devices (<see cref="TrainingDevices"/>); the first holds the model the optimizer steps.</summary>
    public IReadOnlyList<string> Devices { get; }

    /// <summary>Where batches go: the first device.</summary>
    public Device Device { get; }
    public DataLoader Loader { get; }
    public LearningRateSchedule Schedule { get; }
    public SamedOptimizer Optimizer { get; }

    /// <summary>Where training continues: steps done, and the training seconds before this session.</summary>
    public long StartIteration { get; private set; }
    public double ElapsedBefore { get; private set; }

    /// <summary>Checks the run's data (every problem listed by file before the model is built).</summary>
    public static void CheckData(TrainConfig config, Trainer.DataFiles data, ProgressReporter progress)
    {
        if (data.TrainNames.Count == 0)
            throw new InvalidDataException($"{data.Layout.TrainListPath}: the training list names no slices");
        var report = DatasetValidator.Validate(data.Layout, config.NumClasses, data.Parts);
        report.ThrowIfInvalid();
        progress.Message($"data: {report.Summary}");
        foreach (var warning in report.Warnings.Take(5))
            progress.Message(warning.ToString());
    }

    /// <param name="beforeReplicaForward">Data parallel runs: called on a replica's thread with its index before its forward.</param>
    public static TrainingSetup Create(TrainConfig config, string runDirectory, Trainer.DataFiles data, StepPlan plan, ResumeState? resume,
        Action<int>? beforeReplicaForward = null)
    {
        if (config.Threads > 0)
            torch.set_num_threads(config.Threads);
        var devices = TrainingDevices.For(config);
        TrainingPrecision.ConfigureBackends(devices[0], config.AllowTf32, config.Deterministic);
        var model = TrainingModel.Create(config, TorchDevices.Parse(devices[0]));
        DataParallel? parallel = null;
        try
        {
            if (devices.Count > 1)
                parallel = DataParallel.Create(model, devices, LowResLogits, beforeReplicaForward);
            var setup = new TrainingSetup(config, runDirectory, data, plan, model, devices, parallel);
            if (resume is not null)
                setup.Restore(resume);
            return setup;
        }
        catch
        {
            parallel?.Dispose();
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The step the run makes: SAMed's (<see cref="TrainingStep"/> on one device, <see cref="DataParallelStep"/> on
    /// several; <paramref name="observe"/> sees each forward's images and (gathered) logits), or in the promptable mode
    /// <see cref="PromptableStep"/> (no previews; its loss is <see cref="PromptableLoss"/>, so no <see cref="SamedLoss"/> is built).
    /// </summary>
    public IBatchStep CreateStep(Func<Tensor, Tensor, Tensor> observe)
    {
        if (Promptable)
            return new PromptableStep(new PromptableSam(model.Sam), Config, Optimizer, Device);
        var loss = new SamedLoss(Config.NumClasses + 1, Config.DiceWeight);
        IOptimizerStep step = parallel is null
            ? new TrainingStep(images => observe(images, ForwardLowRes(images)), loss, Optimizer, Config.GradAccumSteps)
            : new DataParallelStep(parallel, loss, Optimizer, Config.GradAccumSteps, observe);
        return new SemanticBatchStep(step, Device);
    }

    /// <summary>
    /// The held-out evaluation with the current weights: SAMed's test protocol, or in the promptable mode each class
    /// segmented from its ground-truth box.
    /// </summary>
    public IHeldOutEvaluation CreateHeldOutEvaluation()
    {
        var volumes = Data.TestNames.Select(name => VolumeTestItem.H5(name, Path.Combine(Data.Layout.TestDir, name + ".npy.h5"))).ToList();
        return Promptable
            ? new PromptedHeldOut(model, Config.NumClasses, volumes)
            : new SemanticHeldOut(model, Config.NumClasses, volumes, Math.Max(1, Config.EffectiveBatchSize));
    }

    /// <summary>The data-parallel line of the run log (null on one device).</summary>
    public string? DescribeDevices() => TrainingDevices.Describe(Config, Devices, Loader.Dataset.Count);

    /// <summary>One line: the model, its trainable parameters, the data and the plan.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{DescribeModel()}: {model.TrainableParameterCount():N0} trainable parameters; {Loader.Dataset.Count} slices, {Config.EffectiveBatchSize} per step, {Plan.IterationsPerEpoch} iterations per epoch, {Plan.TotalSteps} iterations on {string.Join(", ", Devices)}");

    private string DescribeModel() => Promptable
        ? string.Create(CultureInfo.InvariantCulture, $"promptable {Config.VitName} img {Config.ImgSize}, {model.Strategy}{(model is Lora.LoraSam l ? $" rank {l.Rank}" : "")}, {Config.PromptKind} prompts")
        : $"model {Config.Model} {Config.Precision}";

    private bool Promptable => Config.Mode == ModelSpec.PromptableMode;

    public void TrainMode() => model.train();

    /// <summary>SAMed's training forward: multimask low-res logits (the IoU predictions are unused).</summary>
    public Tensor ForwardLowRes(Tensor images) => LowResLogits(model, images);

    private static Tensor LowResLogits(AdaptedSam model, Tensor images)
    {
        var (lowRes, iou) = model.ForwardLowRes(images, multimaskOutput: true);
        iou.Dispose();
        return lowRes;
    }

    /// <summary>The predicted label map of batch element <paramref name="index"/> at the input size (SAMed's train/Prediction).</summary>
    public Tensor PreviewMasks(Tensor lowRes, int index)
    {
        var size = (Config.ImgSize, Config.ImgSize);
        var masks = model.Sam.PostprocessMasks(lowRes[index..(index + 1)], size, size);
        return masks[0].argmax(0).cpu();
    }

    /// <summary>Writes the trained tensors as a checkpoint (SAMed's LoRA format).</summary>
    public void SaveModel(string path) => model.SaveCheckpoint(path);

    /// <summary>Writes the resume state after <paramref name="iteration"/> steps.</summary>
    public void SaveResume(long iteration, double elapsedSeconds)
    {
        var (epoch, batch) = Plan.PositionAfter(iteration);
        ResumeCheckpoint.Save(runDirectory, new ResumeState
        {
            Iteration = iteration,
            Epoch = epoch,
            BatchInEpoch = batch,
            Lr = Optimizer.LearningRate,
            ElapsedSeconds = elapsedSeconds,
            FrozenChecksum = frozenChecksum,
            TorchRngState = ResumeCheckpoint.CaptureTorchRng(),
        }, trainable, Optimizer);
    }

    private void Restore(ResumeState resume)
    {
        if (Math.Abs(resume.FrozenChecksum - frozenChecksum) > 1e-9 * Math.Max(1, Math.Abs(frozenChecksum)))
            throw new InvalidDataException($"{runDirectory}: the frozen weights differ from the interrupted run's (checksum {frozenChecksum:R} vs {resume.FrozenChecksum:R}); was the SAM checkpoint changed?");
        if ((resume.Epoch, resume.BatchInEpoch) != Plan.PositionAfter(resume.Iteration))
            throw new InvalidDataException($"{runDirectory}: the resume state's position (epoch {resume.Epoch}, batch {resume.BatchInEpoch}) does not follow from iteration {resume.Iteration} at {Plan.IterationsPerEpoch} iterations per epoch; was the training list changed?");
        ResumeCheckpoint.Restore(runDirectory, resume, trainable, Optimizer);
        StartIteration = resume.Iteration;
        ElapsedBefore = resume.ElapsedSeconds;
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        parallel?.Dispose();
        model.Dispose();
    }
}
