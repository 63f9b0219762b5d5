using System.Globalization;
using SAMed.Data;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Training;

/// <summary>
/// Everything a run reports about its steps and evaluations: the CSV (train_log.csv), TensorBoard (log/, SAMed's
/// tags and image previews, plus info/step_lr and heldout/*), the console progress, heldout_log.csv and progress.png.
/// A resumed run drops the rows of the interrupted run's lost steps and continues after them; TensorBoard gets a new
/// event file per session, as SAMed's SummaryWriter does.
/// </summary>
internal sealed class RunLogger : IDisposable
{
    public const string HeldOutLogFile = "heldout_log.csv";
    public const string ProgressFile = "progress.png";

    private readonly string runDirectory;
    private readonly TrainingLog csv;
    private readonly TensorBoardWriter board;
    private readonly List<StepRecord> earlier;
    private bool plotting = true;
    private (int Steps, int HeldOut) drawn;
    private readonly System.Diagnostics.Stopwatch sinceDrawn = System.Diagnostics.Stopwatch.StartNew();

    private RunLogger(string runDirectory, TrainingLog csv, TensorBoardWriter board, ProgressReporter progress, StepPlan plan,
        List<StepRecord> earlier, List<HeldOutRecord> heldOut)
    {
        this.runDirectory = runDirectory;
        this.csv = csv;
        this.board = board;
        this.earlier = earlier;
        Progress = progress;
        Plan = plan;
        HeldOut = heldOut;
    }

    public ProgressReporter Progress { get; }
    public StepPlan Plan { get; }

    /// <summary>The steps of this session.</summary>
    public List<StepRecord> Steps { get; } = [];

    /// <summary>The run's held-out evaluations, earlier sessions included.</summary>
    public List<HeldOutRecord> HeldOut { get; }

    public static RunLogger Open(string runDirectory, StepPlan plan, ProgressReporter progress, long? resumedIteration)
    {
        string logPath = Path.Combine(runDirectory, Trainer.LogFile);
        string heldOutPath = Path.Combine(runDirectory, HeldOutLogFile);
        var heldOut = resumedIteration is long kept ? HeldOutLog.Read(heldOutPath).Where(r => r.Iteration <= kept).ToList() : [];
        if (resumedIteration is not null && File.Exists(heldOutPath))
            HeldOutLog.Write(heldOutPath, heldOut);
        var earlier = resumedIteration is long last && File.Exists(logPath) ? TrainingLog.Read(logPath).Where(r => r.Iteration <= last).ToList() : [];
        var csv = resumedIteration is long done ? TrainingLog.Continue(logPath, done) : TrainingLog.Create(logPath);
        try
        {
            return new RunLogger(runDirectory, csv, new TensorBoardWriter(Path.Combine(runDirectory, "log")), progress, plan, earlier, heldOut);
        }
        catch
        {
            csv.Dispose();
            throw;
        }
    }

    /// <summary>Logs a step: its CSV row, TensorBoard scalars (the losses' own terms), the preview if one was captured, the progress line.</summary>
    /// <param name="nextLr">The rate set for the next step (SAMed's info/lr).</param>
    public void Step(StepRecord record, StepLosses losses, double nextLr, Batch batch, PreviewCapture previews, TimeSpan eta)
    {
        Steps.Add(record);
        csv.Append(record);
        long iteration = record.Iteration;
        // The rate this step used, as train_log.csv's step_lr.
        board.AddScalar("info/step_lr", record.Lr, iteration);
        // As trainer.py: info/lr is the rate just set for the next step, logged at the new iter_num.
        board.AddScalar("info/lr", nextLr, iteration);
        board.AddScalar("info/total_loss", record.Loss, iteration);
        foreach (var (tag, value) in losses.BoardScalars())
            board.AddScalar(tag, value, iteration);
        if (previews.Take() is { } masks)
        {
            using (masks)
                WritePreview(batch, masks, previews.IndexIn(batch.Count), iteration);
        }
        board.Flush();
        Progress.Report(record, Plan.TotalSteps, Plan.Epochs, eta);
    }

    /// <summary>Logs a held-out evaluation: heldout_log.csv, TensorBoard heldout/mean_dice and heldout/mean_hd95, the console.</summary>
    /// <param name="prompts">What a promptable evaluation prompted with ("box prompts"), or null.</param>
    public void HeldOutEvaluated(HeldOutRecord record, int volumes, string distanceUnit, string? prompts)
    {
        HeldOut.Add(record);
        HeldOutLog.Write(Path.Combine(runDirectory, HeldOutLogFile), HeldOut);
        board.AddScalar("heldout/mean_dice", record.MeanDice, record.Iteration);
        board.AddScalar("heldout/mean_hd95", record.MeanHd95, record.Iteration);
        board.Flush();
        Progress.Message(string.Create(CultureInfo.InvariantCulture,
            $"held-out ({volumes} volumes{(prompts is null ? "" : $", {prompts}")}) after iteration {record.Iteration} (epoch {record.Epoch + 1}): mean Dice {record.MeanDice:F4}, mean HD95 {record.MeanHd95:F2} {distanceUnit}"));
    }

    /// <summary>
    /// Redraws progress.png from the whole run when it changed and either <paramref name="now"/>, a held-out
    /// evaluation was added, or a minute passed since the last drawing (drawing takes about 0.5 s; a tiny run's
    /// epochs take 2). A failure to draw is reported once and drawing stops.
    /// </summary>
    public void WriteProgressPlot(bool now = false)
    {
        var content = (earlier.Count + Steps.Count, HeldOut.Count);
        bool due = now || content.Item2 != drawn.HeldOut || sinceDrawn.Elapsed >= TimeSpan.FromMinutes(1);
        if (!plotting || content.Item1 == 0 || content == drawn || !due)
            return;
        try
        {
            ProgressPlot.Write(Path.Combine(runDirectory, ProgressFile), [.. earlier, .. Steps], HeldOut);
            drawn = content;
            sinceDrawn.Restart();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            plotting = false;
            Progress.Message($"{ProgressFile} not drawn: {e.GetBaseException().Message}");
        }
    }

    public void Dispose()
    {
        board.Dispose();
        csv.Dispose();
    }

    /// <summary>SAMed's image summaries of batch element 1: the image scaled to [0, 1], prediction and label times 50.</summary>
    private void WritePreview(Batch batch, Tensor prediction, int index, long iteration)
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

/// <summary>
/// SAMed's train/Prediction preview: every preview_interval steps the step's forward is observed once and the
/// predicted label map of batch element 1 kept (under accumulation the first micro-batch supplies it).
/// </summary>
internal sealed class PreviewCapture(int interval, int index, Func<Tensor, int, Tensor> masksOf)
{
    private bool armed;
    private Tensor? masks;

    /// <summary>Arms the capture when step <paramref name="iteration"/> (1-based) is a preview step.</summary>
    public void Prepare(long iteration) => armed = iteration % interval == 0;

    /// <summary>Passes the forward's logits through, keeping the preview when armed.</summary>
    public Tensor Observe(Tensor images, Tensor lowRes)
    {
        if (!armed)
            return lowRes;
        armed = false;
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        masks?.Dispose();
        masks = masksOf(lowRes.detach(), IndexIn((int)images.shape[0])).DetachFromDisposeScope();
        return lowRes;
    }

    /// <summary>The captured label map (the caller disposes it), or null.</summary>
    public Tensor? Take()
    {
        var taken = masks;
        masks = null;
        return taken;
    }

    public int IndexIn(int batchSize) => Math.Min(index, batchSize - 1);
}
