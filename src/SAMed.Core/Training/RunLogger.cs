using SAMed.Data;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Training;

/// <summary>
/// Everything a run reports about its steps: the CSV (train_log.csv), TensorBoard (log/, SAMed's tags and image
/// previews) and the console progress. A resumed run drops the CSV rows of the interrupted run's lost steps and
/// continues after them; TensorBoard gets a new event file per session, as SAMed's SummaryWriter does.
/// </summary>
internal sealed class RunLogger : IDisposable
{
    private readonly TrainingLog csv;
    private readonly TensorBoardWriter board;

    private RunLogger(TrainingLog csv, TensorBoardWriter board, ProgressReporter progress, StepPlan plan)
    {
        this.csv = csv;
        this.board = board;
        Progress = progress;
        Plan = plan;
    }

    public ProgressReporter Progress { get; }
    public StepPlan Plan { get; }

    /// <summary>The steps of this session.</summary>
    public List<StepRecord> Steps { get; } = [];

    public static RunLogger Open(string runDirectory, StepPlan plan, ProgressReporter progress, long? resumedIteration)
    {
        string logPath = Path.Combine(runDirectory, Trainer.LogFile);
        var csv = resumedIteration is long done ? TrainingLog.Continue(logPath, done) : TrainingLog.Create(logPath);
        try
        {
            return new RunLogger(csv, new TensorBoardWriter(Path.Combine(runDirectory, "log")), progress, plan);
        }
        catch
        {
            csv.Dispose();
            throw;
        }
    }

    /// <summary>Logs a step: its CSV row, SAMed's TensorBoard scalars, the preview if one was captured, the progress line.</summary>
    /// <param name="nextLr">The rate set for the next step (SAMed's info/lr).</param>
    public void Step(StepRecord record, double nextLr, Batch batch, PreviewCapture previews, TimeSpan eta)
    {
        Steps.Add(record);
        csv.Append(record);
        long iteration = record.Iteration;
        // As trainer.py: info/lr is the rate just set for the next step, logged at the new iter_num.
        board.AddScalar("info/lr", nextLr, iteration);
        board.AddScalar("info/total_loss", record.Loss, iteration);
        board.AddScalar("info/loss_ce", record.LossCe, iteration);
        board.AddScalar("info/loss_dice", record.LossDice, iteration);
        if (previews.Take() is { } masks)
        {
            using (masks)
                WritePreview(batch, masks, previews.IndexIn(batch.Count), iteration);
        }
        board.Flush();
        Progress.Report(record, Plan.TotalSteps, Plan.Epochs, eta);
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
