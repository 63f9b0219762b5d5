using System.Diagnostics;
using System.Globalization;

namespace SAMed.Benchmarks;

/// <summary>Peak resident memory (VmHWM) of this process, and of a workload run in a child process.</summary>
public static class PeakMemory
{
    /// <summary>The line a child prints so its parent can read the peak.</summary>
    public const string Marker = "SAMED_BENCH_VMHWM_BYTES=";

    /// <summary>VmHWM from /proc/self/status in bytes, or null where there is no /proc (not Linux).</summary>
    public static long? CurrentProcessPeakBytes()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status))
            return null;
        foreach (var line in File.ReadLines(status))
        {
            if (!line.StartsWith("VmHWM:", StringComparison.Ordinal))
                continue;
            var parts = line["VmHWM:".Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return long.Parse(parts[0], CultureInfo.InvariantCulture) * 1024;
        }
        return null;
    }

    /// <summary>Prints the marker line with this process's peak after <paramref name="runs"/> runs (what a child does after each run).</summary>
    public static void Report(TextWriter output, int runs) =>
        output.WriteLine($"{Marker}{runs.ToString(CultureInfo.InvariantCulture)}:{(CurrentProcessPeakBytes() ?? -1).ToString(CultureInfo.InvariantCulture)}");

    /// <summary>The (runs, peak bytes) pairs of a child's marker lines, in order.</summary>
    public static IReadOnlyList<(int Runs, long Bytes)> Parse(string output) =>
        output.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith(Marker, StringComparison.Ordinal))
            .Select(l => l[Marker.Length..].Split(':'))
            .Select(p => (int.Parse(p[0], CultureInfo.InvariantCulture), long.Parse(p[1], CultureInfo.InvariantCulture)))
            .ToList();

    /// <summary>
    /// Runs a child process (the same program in its hidden measuring mode) and returns the peaks it reports after
    /// each run. The child's other output is discarded; a failure surfaces with its error output.
    /// </summary>
    public static IReadOnlyList<(int Runs, long Bytes)> RunChild(string executable, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {executable}");
        var errors = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var peaks = Parse(output);
        if (process.ExitCode != 0 || peaks.Count == 0)
        {
            throw new InvalidOperationException(
                $"the memory child ({executable} {string.Join(' ', arguments)}) failed with exit code {process.ExitCode}: {errors.Result.Trim()}");
        }
        return peaks;
    }

    /// <summary>How to start this program again: the apphost itself, or dotnet with the entry assembly.</summary>
    public static (string Executable, IReadOnlyList<string> Prefix) SelfCommand()
    {
        string process = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this program is unknown");
        string name = Path.GetFileNameWithoutExtension(process);
        if (name.Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            string entry = System.Reflection.Assembly.GetEntryAssembly()?.Location
                ?? throw new InvalidOperationException("the entry assembly is unknown");
            return (process, [entry]);
        }
        return (process, []);
    }
}
