using System.Globalization;
using CsvHelper;
using SAMed.IO;

namespace SAMed.Training;

/// <summary>One held-out evaluation during training: after <c>Iteration</c> steps (the end of 0-based <c>Epoch</c>), SAMed's mean Dice and HD95.</summary>
public sealed record HeldOutRecord(long Iteration, int Epoch, double MeanDice, double MeanHd95);

/// <summary>
/// heldout_log.csv: every held-out evaluation of a run (those every eval_interval epochs and the one after training).
/// On resume the rows after the resumed iteration are dropped, as in train_log.csv.
/// </summary>
public static class HeldOutLog
{
    private static readonly string[] Header = ["iteration", "epoch", "mean_dice", "mean_hd95"];
    private static readonly CsvWriterOptions WriterOptions = new() { FormatProvider = CultureInfo.InvariantCulture, NewLine = "\n" };
    private static readonly CsvReaderOptions ReaderOptions = new() { FormatProvider = CultureInfo.InvariantCulture, HasHeader = true };

    public static List<HeldOutRecord> Read(string path)
    {
        if (!File.Exists(path))
            return [];
        using var reader = CsvReader.Create(new StreamReader(path), ReaderOptions, false);
        var records = new List<HeldOutRecord>();
        while (reader.Read())
        {
            records.Add(new HeldOutRecord(reader.Parse<long>("iteration"), reader.Parse<int>("epoch"),
                reader.Parse<double>("mean_dice"), reader.Parse<double>("mean_hd95")));
        }
        return records;
    }

    /// <summary>Rewrites the file with <paramref name="records"/> (atomically).</summary>
    public static void Write(string path, IEnumerable<HeldOutRecord> records) => AtomicFile.WriteText(path, text =>
    {
        using var csv = CsvWriter.Create(text, WriterOptions, true);
        csv.WriteHeader(Header);
        foreach (var r in records)
        {
            string[] fields =
            [
                r.Iteration.ToString(CultureInfo.InvariantCulture), r.Epoch.ToString(CultureInfo.InvariantCulture),
                r.MeanDice.ToString("R", CultureInfo.InvariantCulture), r.MeanHd95.ToString("R", CultureInfo.InvariantCulture),
            ];
            csv.WriteRecord(fields);
        }
        csv.Flush();
    });
}
