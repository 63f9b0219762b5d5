using System.CommandLine;
using SAMed.Train.Cli;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace SAMed.Train.Tests;

/// <summary>What one in-process `samed` run gave.</summary>
public sealed record SamedRun(int ExitCode, string Output, string Error)
{
    /// <summary>The error stream's lines.</summary>
    public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}";
}

/// <summary>
/// Runs `samed` commands in this process with the console captured (commands write to Console, so the tests of
/// this assembly run one at a time).
/// </summary>
public static class Samed
{
    public static SamedRun Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = CommandRunner.Run(args, output, error);
        return new SamedRun(code, output.ToString(), error.ToString());
    }

    /// <summary>Parses without running (after the snake_case normalisation the runner applies).</summary>
    public static ParseResult Parse(params string[] args)
    {
        var root = CommandRunner.CreateRoot();
        return root.Parse(OptionAliases.Normalize(args, root));
    }

    /// <summary>Asserts a failed run: the exit code, one line on the error stream, no stack trace.</summary>
    public static SamedRun AssertFails(this SamedRun run, int exitCode, params string[] fragments)
    {
        Assert.True(run.ExitCode == exitCode, run.ToString());
        Assert.True(run.ErrorLines.Length == 1, run.ToString());
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
        Assert.StartsWith("samed", run.Error, StringComparison.Ordinal);
        foreach (string fragment in fragments)
            Assert.Contains(fragment, run.Error, StringComparison.Ordinal);
        return run;
    }

    public static SamedRun AssertSucceeds(this SamedRun run)
    {
        Assert.True(run.ExitCode == 0, run.ToString());
        return run;
    }
}

/// <summary>A temporary folder, removed afterwards.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "samed-cli-" + Guid.NewGuid().ToString("N")[..8]);

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
