using SAMed.Evaluation;

namespace SAMed.Training;

/// <summary>
/// When a run evaluates its held-out volumes (<see cref="IHeldOutEvaluation"/>): every eval_interval epochs during training
/// when set (nnU-Net's habit; 0 in SAMed's recipe, which evaluates only the final model) and once after training.
/// Each evaluation is logged and offered to the checkpoint policy, which keeps best.pth by mean Dice. An evaluation
/// already made at the same iteration is reused.
/// </summary>
internal sealed class HeldOutSchedule(TrainConfig config, StepPlan plan, bool enabled, IHeldOutEvaluation evaluation,
    RunLogger logger, CheckpointPolicy checkpoints, CancellationToken cancellation)
{
    private (long Iteration, EvaluationReport Report)? last;

    /// <summary>There are held-out volumes and evaluation was not turned off.</summary>
    public bool Enabled => enabled;

    public void AfterEpoch(int epoch, long iteration)
    {
        bool complete = iteration == (long)(epoch + 1) * plan.IterationsPerEpoch;
        if (enabled && config.EvalInterval > 0 && complete && (epoch + 1) % config.EvalInterval == 0 && !cancellation.IsCancellationRequested)
            Evaluate(iteration);
    }

    public EvaluationReport Evaluate(long iteration)
    {
        if (last is { } done && done.Iteration == iteration)
            return done.Report;
        var report = evaluation.Evaluate();
        var record = new HeldOutRecord(iteration, plan.EpochOf(iteration), report.MeanDice, report.MeanHd95);
        logger.HeldOutEvaluated(record, report.Cases.Count, report.DistanceUnit, evaluation.Prompts);
        checkpoints.AfterEvaluation(record);
        last = (iteration, report);
        return report;
    }
}
