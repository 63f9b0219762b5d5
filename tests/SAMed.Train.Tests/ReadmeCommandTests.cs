using System.Text;
using System.Text.RegularExpressions;

namespace SAMed.Train.Tests;

/// <summary>
/// Every `samed` command of the README: those of "Your own NIfTI on CPU" are run in order in a temporary folder, the
/// others (GPU runs, SAMed's own command lines) must parse.
/// </summary>
public partial class ReadmeCommandTests
{
    private const string WalkSection = "## Your own NIfTI on CPU";

    /// <summary>(section, arguments after `samed` or `dotnet run ... --project src/SAMed.Train --`) of every command.</summary>
    internal static List<(string Section, string[] Args)> Commands()
    {
        string readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md"));
        var commands = new List<(string, string[])>();
        string section = "";
        bool inBash = false;
        var line = new StringBuilder();
        foreach (string raw in readme.Split('\n'))
        {
            string text = raw.TrimEnd('\r');
            if (!inBash)
            {
                if (text.StartsWith("## ", StringComparison.Ordinal))
                    section = text.Trim();
                inBash = text.Trim() == "```bash";
                continue;
            }
            if (text.Trim() == "```")
            {
                inBash = false;
                continue;
            }
            line.Append(text.Trim().TrimEnd('\\').Trim()).Append(' ');
            if (text.TrimEnd().EndsWith('\\'))
                continue;
            var words = Split(StripComment(line.ToString()));
            line.Clear();
            if (words.Count > 0 && words[0] == "samed")
                commands.Add((section, words.Skip(1).ToArray()));
            else if (words.IndexOf("src/SAMed.Train") is int project and > 0 && words.IndexOf("--") is int dashes and > 0 && dashes > project)
                commands.Add((section, words.Skip(dashes + 1).ToArray()));
        }
        return commands;
    }

    [Fact]
    public void TheReadmeHasCommandsInsideAndOutsideTheWalk()
    {
        var commands = Commands();
        Assert.Contains(commands, c => c.Section == WalkSection && c.Args[0] == "prepare");
        Assert.Contains(commands, c => c.Section != WalkSection && c.Args.Contains("--lora_ckpt"));
        Assert.Contains(commands, c => c.Args.SequenceEqual(["train"]));
    }

    [Fact]
    public void EveryReadmeCommandParses()
    {
        foreach (var (section, args) in Commands())
        {
            var parse = Samed.Parse(args);
            Assert.True(parse.Errors.Count == 0, $"{section}: samed {string.Join(' ', args)}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void TheCpuWalkRunsFromNiftiToScores()
    {
        using var temp = new TempFolder();
        string saved = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(temp.Path);
        try
        {
            var walk = Commands().Where(c => c.Section == WalkSection).Select(c => c.Args).ToList();
            Assert.Equal(["synth", "prepare", "validate", "train", "test", "predict", "score"], walk.Select(a => a[0]));
            foreach (var args in walk)
                Samed.Run(args).AssertSucceeds();
            Assert.True(File.Exists(temp["demo/data/cases.tsv"]));
            Assert.True(File.Exists(temp["demo/test/metrics.csv"]));
            Assert.True(File.Exists(temp["demo/pred/case0004.nii.gz"]));
            Assert.Contains("case0004", File.ReadAllText(temp["demo/score/scores.csv"]), StringComparison.Ordinal);
        }
        finally
        {
            Directory.SetCurrentDirectory(saved);
        }
    }

    private static string StripComment(string line) => CommentPattern().Replace(line, "");

    /// <summary>Shell words: whitespace-separated, with '...' and "..." quoting.</summary>
    private static List<string> Split(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool any = false;
        char quote = '\0';
        foreach (char c in line)
        {
            if (quote != '\0')
            {
                if (c == quote)
                    quote = '\0';
                else
                    word.Append(c);
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                any = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (any || word.Length > 0)
                    words.Add(word.ToString());
                word.Clear();
                any = false;
            }
            else
            {
                word.Append(c);
            }
        }
        if (any || word.Length > 0)
            words.Add(word.ToString());
        return words;
    }

    [GeneratedRegex(@"(^|\s)#.*$")]
    private static partial Regex CommentPattern();
}
