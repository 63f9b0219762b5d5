namespace SAMed.Train.Cli;

/// <summary>
/// A progress line redrawn in place on a terminal; when the output is redirected, the line is printed at most every
/// <see cref="RedirectedInterval"/> (a log still shows that a long volume advances).
/// </summary>
internal sealed class ConsoleProgress
{
    public static readonly TimeSpan RedirectedInterval = TimeSpan.FromSeconds(30);

    private readonly bool interactive = !Console.IsOutputRedirected;
    private readonly System.Diagnostics.Stopwatch sincePrinted = System.Diagnostics.Stopwatch.StartNew();
    private int width;

    public void Update(string line)
    {
        if (!interactive)
        {
            if (sincePrinted.Elapsed >= RedirectedInterval)
            {
                Console.WriteLine(line);
                sincePrinted.Restart();
            }
            return;
        }
        Console.Write("\r" + line.PadRight(width));
        width = line.Length;
    }

    public void Done()
    {
        if (interactive && width > 0)
        {
            Console.Write("\r" + new string(' ', width) + "\r");
            width = 0;
        }
    }
}
