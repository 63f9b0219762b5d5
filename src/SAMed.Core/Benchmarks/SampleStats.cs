using System.Diagnostics;

namespace SAMed.Benchmarks;

/// <summary>Timing of repeated runs in seconds: median and spread (min, max, interquartile range).</summary>
public sealed record SampleStats(double Median, double Min, double Max, double Q1, double Q3, int Count)
{
    /// <summary>The samples in the order they were taken.</summary>
    public IReadOnlyList<double> Samples { get; init; } = [];

    /// <summary>
    /// Median CPU time of the whole process per run (user + system, all threads), when measured. On a machine shared
    /// with other work it varies much less than the wall time; divided by the threads it approximates the wall time
    /// on an idle machine (libtorch's threads spin briefly while waiting, which it also counts).
    /// </summary>
    public double? CpuMedian { get; init; }

    /// <summary>The CPU times per run, when measured.</summary>
    public IReadOnlyList<double> CpuSamples { get; init; } = [];

    /// <summary>The samples of several measurements of the same thing as one.</summary>
    public static SampleStats Combine(params SampleStats[] parts)
    {
        var cpu = parts.SelectMany(p => p.CpuSamples).ToArray();
        return From([.. parts.SelectMany(p => p.Samples)]) with { CpuSamples = cpu, CpuMedian = cpu.Length > 0 ? From(cpu).Median : null };
    }

    /// <summary>Interquartile range relative to the median.</summary>
    public double RelativeSpread => Median > 0 ? (Q3 - Q1) / Median : 0;

    public static SampleStats From(IReadOnlyList<double> samples)
    {
        if (samples.Count == 0)
            throw new ArgumentException("need at least one sample", nameof(samples));
        var sorted = samples.Order().ToArray();
        return new SampleStats(Quantile(sorted, 0.5), sorted[0], sorted[^1], Quantile(sorted, 0.25), Quantile(sorted, 0.75), sorted.Length)
        {
            Samples = [.. samples],
        };
    }

    /// <summary>Runs <paramref name="action"/> warmup times untimed, then times it <paramref name="iterations"/> times.</summary>
    public static SampleStats Measure(int warmup, int iterations, Action action)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(warmup);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        for (int i = 0; i < warmup; i++)
            action();
        var samples = new double[iterations];
        var cpu = new double[iterations];
        using var process = Process.GetCurrentProcess();
        for (int i = 0; i < iterations; i++)
        {
            process.Refresh();
            var cpuStart = process.TotalProcessorTime;
            long start = Stopwatch.GetTimestamp();
            action();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            process.Refresh();
            cpu[i] = (process.TotalProcessorTime - cpuStart).TotalSeconds;
        }
        return From(samples) with { CpuMedian = From(cpu).Median, CpuSamples = cpu };
    }

    /// <summary>Linear interpolation between order statistics (numpy's default percentile).</summary>
    private static double Quantile(double[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int lower = (int)Math.Floor(position);
        int upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + (position - lower) * (sorted[upper] - sorted[lower]);
    }
}
