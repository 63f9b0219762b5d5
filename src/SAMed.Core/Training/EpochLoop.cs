using System.Diagnostics;
using SAMed.Data;
using SAMed.TorchInterop;
using static TorchSharp.torch;

namespace SAMed.Training;

/// <summary>
/// trainer_synapse's loop from the run's position on: for each batch one step of the run's mode
/// (<see cref="TrainingSetup.CreateStep"/>: zero_grad, forward, loss, backward, optimizer.step), the learning rate for the next step from the schedule, the step logged, then
/// <c>afterStep(iteration)</c>; after each epoch <c>afterEpoch(epoch, iteration)</c>. A cancelled
/// <see cref="TrainerOptions.Cancellation"/> ends the loop before the next step (the current one finishes) and sets
/// <see cref="Interrupted"/>.
/// </summary>
internal sealed class EpochLoop(TrainingSetup setup, TrainingClock clock, RunLogger logger, TrainerOptions options,
    Action<long> afterStep, Action<int, long> afterEpoch)
{
    private long sessionSteps;

    /// <summary>Optimizer steps done (SAMed's iter_num).</summary>
    public long Iteration { get; private set; } = setup.StartIteration;

    /// <summary>The loop stopped on cancellation before the planned steps were done.</summary>
    public bool Interrupted { get; private set; }

    public void Run()
    {
        var config = setup.Config;
        var plan = setup.Plan;
        // SAMed previews batch element 1; under accumulation the first micro-batch's forward supplies it.
        var previews = new PreviewCapture(config.PreviewInterval, Math.Min(1, config.EffectiveBatchSize / config.GradAccumSteps - 1), setup.PreviewMasks);
        var step = setup.CreateStep(previews.Observe);
        var (startEpoch, startBatch) = plan.PositionAfter(Iteration);
        var cancellation = options.Cancellation;
        clock.Start();
        setup.TrainMode();
        for (int epoch = startEpoch; epoch < plan.Epochs && Iteration < plan.TotalSteps && !Interrupted; epoch++)
        {
            try
            {
                foreach (var batch in setup.Loader.Epoch(epoch, epoch == startEpoch ? startBatch : 0, cancellation))
                {
                    using (batch)
                    {
                        if (cancellation.IsCancellationRequested)
                            break;
                        Step(step, previews, batch, epoch);
                    }
                    afterStep(Iteration);
                    options.AfterStep?.Invoke(Iteration);
                    if (Iteration >= plan.TotalSteps)
                        break;
                }
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                // The loader stopped waiting for a batch: no step was lost.
            }
            Interrupted = cancellation.IsCancellationRequested && Iteration < plan.TotalSteps;
            if (!Interrupted)
                afterEpoch(epoch, Iteration);
        }
        clock.Stop();
    }

    private void Step(IBatchStep step, PreviewCapture previews, Batch batch, int epoch)
    {
        using var pause = GcPause.Begin();
        using var scope = NewDisposeScope();
        double lr = setup.Optimizer.LearningRate;
        previews.Prepare(Iteration + 1);
        var started = clock.Session;
        var losses = step.Run(batch, Iteration);
        double seconds = (clock.Session - started).TotalSeconds;
        double nextLr = setup.Schedule.AfterStep(Iteration);
        setup.Optimizer.LearningRate = nextLr;
        Iteration++;
        sessionSteps++;

        var record = new StepRecord(Iteration, epoch, lr, losses.Loss, losses.CrossEntropy, losses.Dice,
            batch.Count / Math.Max(seconds, 1e-9), clock.Seconds);
        double perStep = clock.Session.TotalSeconds / sessionSteps;
        logger.Step(record, losses, nextLr, batch, previews, TimeSpan.FromSeconds(perStep * (setup.Plan.TotalSteps - Iteration)));
    }
}

/// <summary>Training time of a run across sessions: the seconds saved with the resume state plus this session's.</summary>
internal sealed class TrainingClock(double secondsBefore)
{
    private readonly Stopwatch session = new();

    public TimeSpan Session => session.Elapsed;

    public double Seconds => secondsBefore + session.Elapsed.TotalSeconds;

    public void Start() => session.Start();

    public void Stop() => session.Stop();
}
