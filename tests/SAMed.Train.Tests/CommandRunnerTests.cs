using System.CommandLine;
using SAMed.Train.Cli;

namespace SAMed.Train.Tests;

/// <summary>One runner for every command: one line on error, exit 2 for bad input or usage, 1 for a failure while working.</summary>
public class CommandRunnerTests
{
    [Fact]
    public void UnknownOptionIsUsageErrorOnOneLine()
    {
        Samed.Run("test", "--no-such-option", "x").AssertFails(ExitCodes.BadInput, "samed test:", "--no-such-option", "--help");
        Samed.Run("frobnicate").AssertFails(ExitCodes.BadInput, "frobnicate");
    }

    [Fact]
    public void MissingRequiredOptionIsUsageError()
    {
        Samed.Run("predict", "-i", "a.nii.gz").AssertFails(ExitCodes.BadInput, "samed predict:", "--output");
        Samed.Run("prepare", "--images", "a", "--labels", "b").AssertFails(ExitCodes.BadInput, "samed prepare:", "--output");
    }

    [Fact]
    public void BadValueIsUsageError()
    {
        Samed.Run("synth", "-o", "x", "--size", "big").AssertFails(ExitCodes.BadInput, "big");
        Samed.Run("info", "--model", "vit_q").AssertFails(ExitCodes.BadInput, "vit_q");
    }

    [Fact]
    public void HelpAndVersionSucceed()
    {
        var help = Samed.Run("test", "--help").AssertSucceeds();
        Assert.Contains("--lora-checkpoint", help.Output, StringComparison.Ordinal);
        Assert.Contains("--lora_ckpt", help.Output, StringComparison.Ordinal);
        Assert.Contains("libtorch", Samed.Run("version").AssertSucceeds().Output, StringComparison.Ordinal);
    }

    [Fact]
    public void NonexistentPathsAreNamedAsSuch()
    {
        using var temp = new TempFolder();
        string missing = temp["nowhere"];
        Samed.Run("test", "--model", "tiny", "--volume-path", missing).AssertFails(ExitCodes.BadInput, missing, "does not exist");
        Samed.Run("prepare", "--images", missing, "--labels", missing, "-o", temp["out"]).AssertFails(ExitCodes.BadInput, missing, "not found");
        Samed.Run("score", missing, missing).AssertFails(ExitCodes.BadInput, missing);
        Samed.Run("train", "--config", temp["none.json"]).AssertFails(ExitCodes.BadInput, "none.json", "not found");
    }

    /// <summary>--devices takes a comma list; a list torch cannot use stops train before any compute, with every problem on one line.</summary>
    [Fact]
    public void TrainDevicesAreCheckedBeforeAnyCompute()
    {
        using var temp = new TempFolder();
        Samed.Run("train", "--devices", "cpu,cuda:0", "--run-dir", temp["mixed"])
            .AssertFails(ExitCodes.BadInput, "devices [cpu, cuda:0] mix cpu and cuda");
        Samed.Run("train", "--devices", "cpu,gpu1", "--run-dir", temp["misspelt"])
            .AssertFails(ExitCodes.BadInput, "devices: device 'gpu1' must be cpu, cuda or cuda:N");
        Assert.False(Directory.Exists(temp["mixed"]));
    }

    [Fact]
    public void SynthIntoAPlaceThatCannotBeAFolderIsOneLine()
    {
        using var temp = new TempFolder();
        string file = temp["file"];
        File.WriteAllText(file, "x");
        var run = Samed.Run("synth", "-o", Path.Combine(file, "data"), "--size", "32", "--train-count", "1", "--test-count", "1");
        Assert.NotEqual(0, run.ExitCode);
        Assert.True(run.ErrorLines.Length == 1, run.ToString());
        Assert.Contains(file, run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void ExceptionKindsGiveTheDocumentedExitCodes()
    {
        Assert.Equal(ExitCodes.BadInput, CommandRunner.ExitCodeOf(new FileNotFoundException("x")));
        Assert.Equal(ExitCodes.BadInput, CommandRunner.ExitCodeOf(new InvalidDataException("x")));
        Assert.Equal(ExitCodes.BadInput, CommandRunner.ExitCodeOf(new ArgumentException("x")));
        Assert.Equal(ExitCodes.BadInput, CommandRunner.ExitCodeOf(new UnauthorizedAccessException("x")));
        Assert.Equal(ExitCodes.Failure, CommandRunner.ExitCodeOf(new IOException("x")));
        Assert.Equal(ExitCodes.Failure, CommandRunner.ExitCodeOf(new System.Runtime.InteropServices.ExternalException("x")));
        Assert.Equal(ExitCodes.Interrupted, CommandRunner.ExitCodeOf(new OperationCanceledException()));
    }

    [Fact]
    public void AFullDiskIsAFailureOnOneLine()
    {
        if (!File.Exists("/dev/full"))
            return;
        // A real ENOSPC from the kernel: /dev/full answers every write with "No space left on device".
        var failing = new Command("fill", "writes to /dev/full");
        failing.SetAction(_ =>
        {
            using var stream = new FileStream("/dev/full", FileMode.Open, FileAccess.Write);
            stream.Write(new byte[4096]);
            stream.Flush();
            return 0;
        });
        var root = new RootCommand { failing };
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = CommandRunner.Run(root, ["fill"], output, error);
        var run = new SamedRun(code, output.ToString(), error.ToString());
        run.AssertFails(ExitCodes.Failure, "samed fill: disk full:");
    }

    [Fact]
    public void MultiLineMessagesBecomeOneLine()
    {
        Assert.Equal("a; b", CommandRunner.OneLine("a\n\n b \nException raised from foo\nframe #0: bar"));
        Assert.Equal("invalid configuration: x is bad; y is bad", CommandRunner.OneLine("invalid configuration:\n  x is bad\n  y is bad"));
    }
}
