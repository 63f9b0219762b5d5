using System.Diagnostics;
using SAMed.Training;

namespace SAMed.Tests.Training;

/// <summary>
/// The program (`samed train`, src/SAMed.Train, built with the tests) run as a child process and stopped by a
/// signal: it finishes its step, writes the resume state, prints the line to continue with and exits 130.
/// </summary>
public sealed class TrainSignalTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"samed-signal-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(root))
            Directory.Delete(root, recursive: true);
    }

    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task SignalStopsTrainingWithAResumableState(string signal)
    {
        string run = Path.Combine(root, "run");
        using var child = Start("train", "--run-dir", run, "--no-eval", "--set", "log_interval=1", "--set", "synthetic_train_volumes=1", "--set", "synthetic_test_volumes=0");
        var lines = new List<string>();
        var stepped = new TaskCompletionSource();
        child.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (lines)
                lines.Add(e.Data);
            if (e.Data.Contains("iter ", StringComparison.Ordinal))
                stepped.TrySetResult();
        };
        child.BeginOutputReadLine();
        var stderr = child.StandardError.ReadToEndAsync();

        await stepped.Task.WaitAsync(TimeSpan.FromMinutes(3));
        using (var kill = Process.Start("kill", $"-{signal} {child.Id}"))
            kill.WaitForExit();
        Assert.True(child.WaitForExit(TimeSpan.FromMinutes(2)), "the program did not stop within 2 minutes of the signal");
        child.WaitForExit();
        string errors = await stderr;

        string output = string.Join("\n", lines);
        Assert.True(child.ExitCode == 130, $"exit code {child.ExitCode}\n{output}\n{errors}");
        Assert.Contains($"train --resume {run}", output);
        var state = ResumeCheckpoint.Find(run);
        Assert.NotNull(state);
        Assert.InRange(state.Iteration, 1, 49);
        Assert.Contains($"iter {state.Iteration}/50", output);
        Assert.DoesNotContain($"iter {state.Iteration + 1}/50", output);
        Assert.True(File.Exists(Path.Combine(run, state.TensorsFile)));
    }

    /// <summary>Starts the program built beside these tests (same configuration) with redirected output.</summary>
    private static Process Start(params string[] arguments)
    {
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        string program = Path.Combine(Reference.SharedPaths.RepositoryRoot, "src", "SAMed.Train", "bin", configuration, "net10.0", "samed.dll");
        Assert.True(File.Exists(program), $"{program}: not built (the tests project builds src/SAMed.Train)");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(program);
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        return Process.Start(start)!;
    }
}
