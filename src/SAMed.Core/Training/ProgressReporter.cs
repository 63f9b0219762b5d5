using System.Globalization;

namespace SAMed.Training;

/// <summary>
/// Shows progress: on a terminal one line redrawn in place (epoch, iteration of total, losses, lr, images/s, ETA);
/// when the output is redirected, a plain line every <c>interval</c> iterations (and the last one).
/// Iterations are counted from 1 (SAMed's iter_num after the step). A transcript (the run's log.txt), when set,
/// receives every message and the lines of the redirected form, each prefixed with the UTC time.
/// </summary>
public sealed class ProgressReporter(TextWriter output, bool interactive, int interval)
{
    private int _lastWidth;

    /// <summary>The name the first loss term is shown with: SAMed's cross-entropy "ce", or "bce" in the promptable mode.</summary>
    public string FirstLossName { get; set; } = "ce";

    /// <summary>Where a copy of the output goes (null: none).</summary>
    public TextWriter? Transcript { get; set; }

    public static ProgressReporter ForConsole(int interval) => new(Console.Out, !Console.IsOutputRedirected, interval);

    public void Report(StepRecord step, long totalIterations, int maxEpochs, TimeSpan eta)
    {
        string line = string.Create(CultureInfo.InvariantCulture,
            $"epoch {step.Epoch + 1}/{maxEpochs}  iter {step.Iteration}/{totalIterations}  loss {step.Loss:F4} ({FirstLossName} {step.LossCe:F4}, dice {step.LossDice:F4})  lr {step.Lr:G4}  {step.ImagesPerSecond:F1} img/s  ETA {Format(eta)}");
        bool due = step.Iteration % interval == 0 || step.Iteration == totalIterations;
        if (interactive)
        {
            output.Write("\r" + line.PadRight(_lastWidth));
            _lastWidth = line.Length;
            output.Flush();
        }
        else if (due)
        {
            output.WriteLine(line);
        }
        if (due)
            Record(line);
    }

    /// <summary>Prints a message on its own line (ending the in-place line first).</summary>
    public void Message(string message)
    {
        if (interactive && _lastWidth > 0)
        {
            output.WriteLine();
            _lastWidth = 0;
        }
        output.WriteLine(message);
        Record(message);
    }

    /// <summary>Writes a line to the transcript only (e.g. an error the program prints itself).</summary>
    public void RecordOnly(string line) => Record(line);

    private void Record(string line)
    {
        if (Transcript is null)
            return;
        string stamp = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        foreach (string part in line.Split('\n'))
            Transcript.WriteLine($"{stamp}  {part}");
        Transcript.Flush();
    }

    private static string Format(TimeSpan span) => span.TotalHours >= 1
        ? $"{(int)span.TotalHours}:{span.Minutes:D2}:{span.Seconds:D2}"
        : $"{span.Minutes:D2}:{span.Seconds:D2}";
}
