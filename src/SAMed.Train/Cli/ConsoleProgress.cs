namespace SAMed.Train.Cli;

/// <summary>A progress line redrawn in place on a terminal; nothing when the output is redirected.</summary>
internal sealed class ConsoleProgress
{
    private readonly bool interactive = !Console.IsOutputRedirected;
    private int width;

    public void Update(string line)
    {
        if (!interactive)
            return;
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
