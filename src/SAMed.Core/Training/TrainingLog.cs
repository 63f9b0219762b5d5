using System.Globalization;
using CsvHelper;

namespace SAMed.Training;

/// <summary>
/// One optimizer step as logged: iteration is SAMed's iter_num after the step (1-based), epoch is 0-based, lr the
/// rate the step used (the CSV's step_lr), then its losses, throughput and the training time elapsed so far.
/// </summary>
public sealed record StepRecord(long Iteration, int Epoch, double Lr, double Loss, double LossCe, double LossDice, double ImagesPerSecond, double Seconds);

/// <summary>
/// The per-iteration CSV (train_log.csv, written with CsvHelper). On resume the rows after the resumed iteration are
/// dropped (they belong to the interrupted run's lost steps) and logging continues after them. The learning rate
/// column is step_lr, the rate the step used (TensorBoard's info/step_lr; SAMed's info/lr is the next step's);
/// logs written before it was named so call it lr and are read as well.
/// </summary>
public sealed class TrainingLog : IDisposable
{
    private static readonly string[] Header = ["iteration", "epoch", "step_lr", "loss", "loss_ce", "loss_dice", "images_per_second", "seconds"];
    private static readonly CsvWriterOptions WriterOptions = new() { FormatProvider = CultureInfo.InvariantCulture, NewLine = "\n" };
    private static readonly CsvReaderOptions ReaderOptions = new() { FormatProvider = CultureInfo.InvariantCulture, HasHeader = true };
    private readonly StreamWriter _writer;
    private readonly CsvWriter _csv;

    public string Path { get; }

    private TrainingLog(string path, bool append)
    {
        Path = path;
        _writer = new StreamWriter(path, append);
        _csv = CsvWriter.Create(_writer, WriterOptions, true);
        if (!append)
        {
            _csv.WriteHeader(Header);
            _csv.Flush();
            _writer.Flush();
        }
    }

    public static TrainingLog Create(string path) => new(path, append: false);

    /// <summary>Keeps the rows up to <paramref name="lastIteration"/> and appends after them.</summary>
    public static TrainingLog Continue(string path, long lastIteration)
    {
        if (!File.Exists(path))
            return Create(path);
        var kept = Read(path).Where(r => r.Iteration <= lastIteration).ToList();
        IO.AtomicFile.WriteVia(path, temp =>
        {
            using var log = new TrainingLog(temp, append: false);
            foreach (var record in kept)
                log.Append(record);
        });
        return new TrainingLog(path, append: true);
    }

    public static List<StepRecord> Read(string path)
    {
        string lr = File.ReadLines(path).FirstOrDefault()?.Split(',').Contains("step_lr") == true ? "step_lr" : "lr";
        using var reader = CsvReader.Create(new StreamReader(path), ReaderOptions, false);
        var records = new List<StepRecord>();
        while (reader.Read())
        {
            records.Add(new StepRecord(
                reader.Parse<long>("iteration"), reader.Parse<int>("epoch"), reader.Parse<double>(lr),
                reader.Parse<double>("loss"), reader.Parse<double>("loss_ce"), reader.Parse<double>("loss_dice"),
                reader.Parse<double>("images_per_second"), reader.Parse<double>("seconds")));
        }
        return records;
    }

    public void Append(StepRecord r)
    {
        string[] fields =
        [
            r.Iteration.ToString(CultureInfo.InvariantCulture), r.Epoch.ToString(CultureInfo.InvariantCulture),
            Number(r.Lr), Number(r.Loss), Number(r.LossCe), Number(r.LossDice), Number(r.ImagesPerSecond), Number(r.Seconds),
        ];
        _csv.WriteRecord(fields);
        _csv.Flush();
        _writer.Flush();
    }

    public void Dispose()
    {
        _csv.Dispose();
        _writer.Dispose();
    }

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
