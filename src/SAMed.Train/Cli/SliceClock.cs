using System.Globalization;

namespace SAMed.Train.Cli;

/// <summary>Seconds per slice since the first slice of a run was counted, and the time left at that rate.</summary>
internal sealed class SliceClock
{
    private readonly System.Diagnostics.Stopwatch watch = new();
    private int first = -1;
    private int last;

    public void Observe(int slicesDone)
    {
        if (first < 0)
        {
            first = slicesDone;
            watch.Start();
        }
        last = slicesDone;
    }

    /// <summary>", 1.21 s/slice, ETA 23:20" once a slice has been timed, else "".</summary>
    public string Describe(int slicesLeft)
    {
        if (first < 0 || last <= first)
            return "";
        double perSlice = watch.Elapsed.TotalSeconds / (last - first);
        var eta = TimeSpan.FromSeconds(perSlice * slicesLeft);
        string left = eta.TotalHours >= 1 ? $"{(int)eta.TotalHours}:{eta.Minutes:D2}:{eta.Seconds:D2}" : $"{eta.Minutes:D2}:{eta.Seconds:D2}";
        return string.Create(CultureInfo.InvariantCulture, $", {perSlice:F2} s/slice, ETA {left}");
    }
}

