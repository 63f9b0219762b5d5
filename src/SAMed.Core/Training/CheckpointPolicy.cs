namespace SAMed.Training;

/// <summary>
/// When a run writes what. SAMed's epoch_N.pth every save_interval epochs (trainer.py's
/// <c>(epoch_num + 1) % save_interval == 0</c>) and at the last epoch; the resume state every resume_interval
/// iterations, with every epoch_N.pth, at the end and when training is interrupted; with eval_interval set,
/// best.pth whenever a held-out evaluation beats the best mean Dice so far. The model is written through
/// <c>saveModel(path)</c> and the resume state through <c>saveResume(iteration)</c>, so the policy knows no
/// checkpoint format.
/// </summary>
internal sealed class CheckpointPolicy(TrainConfig config, string runDirectory, StepPlan plan,
    Action<string> saveModel, Action<long> saveResume, ProgressReporter progress)
{
    public const string BestFile = "best.pth";

    private double bestDice = double.NegativeInfinity;

    /// <summary>The latest epoch_N.pth written by this session ("" before the first).</summary>
    public string LastModel { get; private set; } = "";

    public static string EpochFile(int epoch) => $"epoch_{epoch}.pth";

    /// <summary>A resumed run's best so far: that of the evaluations kept, when best.pth exists.</summary>
    public void ContinueBest(IEnumerable<HeldOutRecord> earlier)
    {
        if (File.Exists(Path.Combine(runDirectory, BestFile)))
            bestDice = earlier.Select(r => r.MeanDice).DefaultIfEmpty(double.NegativeInfinity).Max();
    }

    /// <summary>Keeps best.pth (only when evaluations run during training: eval_interval &gt; 0).</summary>
    public void AfterEvaluation(HeldOutRecord evaluation)
    {
        if (config.EvalInterval <= 0 || !(evaluation.MeanDice > bestDice))
            return;
        bestDice = evaluation.MeanDice;
        string path = Path.Combine(runDirectory, BestFile);
        saveModel(path);
        progress.Message(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"best held-out mean Dice so far ({evaluation.MeanDice:F4}, iteration {evaluation.Iteration}): save model to {path}"));
    }

    /// <summary>Training stopped early: the resume state after the last completed step.</summary>
    public void Interrupted(long iteration) => saveResume(iteration);

    public void AfterStep(long iteration)
    {
        if (iteration % config.ResumeInterval == 0)
            saveResume(iteration);
    }

    /// <summary>After the steps of <paramref name="epoch"/>: its checkpoint when the epoch is complete and due.</summary>
    public void AfterEpoch(int epoch, long iteration)
    {
        bool complete = iteration == (long)(epoch + 1) * plan.IterationsPerEpoch;
        if (complete && (epoch + 1) % config.SaveInterval == 0)
        {
            SaveEpoch(epoch);
            saveResume(iteration);
        }
    }

    /// <summary>At the end of training: the last epoch's checkpoint (unless just written) and the resume state.</summary>
    public string AtEnd(long iteration)
    {
        int lastEpoch = plan.EpochOf(iteration);
        if (LastModel != Path.Combine(runDirectory, EpochFile(lastEpoch)))
            SaveEpoch(lastEpoch);
        saveResume(iteration);
        return LastModel;
    }

    private void SaveEpoch(int epoch)
    {
        string path = Path.Combine(runDirectory, EpochFile(epoch));
        saveModel(path);
        progress.Message($"save model to {path}");
        LastModel = path;
    }
}
