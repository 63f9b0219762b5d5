using System.CommandLine;
using System.Text.Json;
using SAMed.Train.Commands;
using SAMed.Training;

namespace SAMed.Train.Cli;

/// <summary>Exit codes shared by every command.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>A failure while working: a full disk, an I/O error, libtorch failing, a problem found by validate.</summary>
    public const int Failure = 1;

    /// <summary>Bad input or usage: unknown or missing options, paths that do not exist, files that cannot be read as what they should be.</summary>
    public const int BadInput = 2;

    /// <summary>Stopped by Ctrl-C (SIGINT) or SIGTERM.</summary>
    public const int Interrupted = 130;
}

/// <summary>
/// Runs one `samed` command line: parses it, runs the command, and turns every error into one line on the error
/// stream ("samed COMMAND: message") and an exit code (<see cref="ExitCodes"/>). No stack traces unless
/// SAMED_TRACE=1.
/// </summary>
public static class CommandRunner
{
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("SAMed.NET: fine-tune Segment Anything with LoRA for medical image segmentation.");
        foreach (var command in new[]
        {
            TrainCommand.Create(),
            TestCommand.Create(),
            PredictCommand.Create(),
            ScoreCommand.Create(),
            PrepareCommand.Create(),
            SynthCommand.Create(),
            ValidateCommand.Create(),
            ExportCommand.Create(),
            InfoCommand.Create(),
            BenchCommand.Create(),
            DoctorCommand.Create(),
            VersionCommand.Create(),
        })
        {
            root.Subcommands.Add(command);
        }
        return root;
    }

    /// <summary>Runs <paramref name="args"/>; output and error go to the given writers (default: the console's).</summary>
    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null) => Run(CreateRoot(), args, output, error);

    /// <summary>Runs <paramref name="args"/> against the given commands.</summary>
    public static int Run(RootCommand root, string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        var savedOut = Console.Out;
        var savedError = Console.Error;
        output ??= savedOut;
        error ??= savedError;
        try
        {
            Console.SetOut(output);
            Console.SetError(error);
            return RunParsed(root.Parse(OptionAliases.Normalize(args, root)), output, error);
        }
        finally
        {
            Console.SetOut(savedOut);
            Console.SetError(savedError);
        }
    }

    private static int RunParsed(ParseResult parse, TextWriter output, TextWriter error)
    {
        string name = CommandName(parse);
        if (parse.Errors.Count > 0)
        {
            // "Required command was not provided" says less than the unknown word that comes with it.
            var first = parse.Errors.FirstOrDefault(e => parse.UnmatchedTokens.Any(t => e.Message.Contains(t, StringComparison.Ordinal))) ?? parse.Errors[0];
            error.WriteLine($"{name}: {OneLine(first.Message)} (see {name} --help)");
            return ExitCodes.BadInput;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            var cause = Unwrap(e);
            int code = ExitCodeOf(cause);
            string prefix = IsDiskFull(cause) ? "disk full: " : "";
            error.WriteLine($"{name}: {prefix}{OneLine(cause.Message)}");
            if (Environment.GetEnvironmentVariable("SAMED_TRACE") == "1")
                error.WriteLine(cause);
            return code;
        }
    }

    /// <summary>The exit code an exception stands for.</summary>
    public static int ExitCodeOf(Exception e) => e switch
    {
        OperationCanceledException => ExitCodes.Interrupted,
        _ when IsDiskFull(e) => ExitCodes.Failure,
        FileNotFoundException or DirectoryNotFoundException or PathTooLongException or UnauthorizedAccessException => ExitCodes.BadInput,
        ArgumentException or FormatException or InvalidDataException or KeyNotFoundException or JsonException => ExitCodes.BadInput,
        TrainConfigException or InvalidOperationException => ExitCodes.BadInput,
        _ => ExitCodes.Failure,
    };

    /// <summary>
    /// ENOSPC (28) and EDQUOT (122) on Unix, where .NET's IOException carries the errno as its HResult;
    /// ERROR_DISK_FULL and ERROR_HANDLE_DISK_FULL (as HRESULTs) on Windows.
    /// </summary>
    public static bool IsDiskFull(Exception e) => e is IOException && (OperatingSystem.IsWindows()
        ? e.HResult is unchecked((int)0x80070070) or unchecked((int)0x80070027)
        : e.HResult is 28 or 122);

    private static Exception Unwrap(Exception e)
    {
        while (true)
        {
            switch (e)
            {
                case AggregateException { InnerExceptions.Count: 1 } aggregate:
                    e = aggregate.InnerExceptions[0];
                    break;
                case System.Reflection.TargetInvocationException { InnerException: { } inner }:
                    e = inner;
                    break;
                case TypeInitializationException { InnerException: { } inner }:
                    e = inner;
                    break;
                default:
                    return e;
            }
        }
    }

    private static string CommandName(ParseResult parse) =>
        parse.CommandResult.Command is RootCommand ? "samed" : $"samed {parse.CommandResult.Command.Name}";

    /// <summary>A message as one line: line breaks become "; ", blank lines and libtorch's C++ traces dropped.</summary>
    internal static string OneLine(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .TakeWhile(l => !l.StartsWith("Exception raised from", StringComparison.Ordinal) && !l.StartsWith("frame #", StringComparison.Ordinal))
            .ToList();
        // A line ending in ':' introduces the next ("invalid configuration:" then the problems): joined by a space.
        return string.Concat(lines.Select((line, i) => i == 0 ? line : (lines[i - 1].EndsWith(':') ? " " : "; ") + line));
    }
}
