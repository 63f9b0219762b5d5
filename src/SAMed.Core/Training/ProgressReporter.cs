using System.Globalization;

namespace SAMed.Training;

/// <summary>
/// Shows progress: on a terminal one line redrawn in place (epoch, iteration of total, losses, lr, images/s, ETA);
/// when the output is redirected, a plain line every <c>interval</c> iterations (and the last one).
/// Iterations are counted from 1 (SAMed's iter_num after the step).
/// </summary>
public sealed class ProgressReporter(TextWriter output, bool interactive, int interval)
{
    private int _lastWidth;

    public static ProgressReporter ForConsole(int interval) => new(Console.Out, !Console.IsOutputRedirected, interval);

    public void Report(StepRecord step, long totalIterations, int maxEpochs, TimeSpan eta)
    {
        string line = string.Create(CultureInfo.InvariantCulture,
            $"epoch {step.Epoch + 1}/{maxEpochs}  iter {step.Iteration}/{totalIterations}  loss {step.Loss:F4} (ce {step.LossCe:F4}, dice {step.LossDice:F4})  lr {step.Lr:G4}  {step.ImagesPerSecond:F1} img/s  ETA {Format(eta)}");
        if (interactive)
        {
            output.Write("\r" + line.PadRight(_lastWidth));
            _lastWidth = line.Length;
            output.Flush();
        }
        else if (step.Iteration % interval == 0 || step.Iteration == totalIterations)
        {
            output.WriteLine(line);
        }
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
    }

    private static string Format(TimeSpan span) => span.TotalHours >= 1
        ? $"{(int)span.TotalHours}:{span.Minutes:D2}:{span.Seconds:D2}"
        : $"{span.Minutes:D2}:{span.Seconds:D2}";
}
