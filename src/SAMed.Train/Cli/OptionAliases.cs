using System.CommandLine;

namespace SAMed.Train.Cli;

/// <summary>
/// Other spellings of option names. Every option also answers to its snake_case form (--img_size for --img-size), so
/// SAMed's argparse names work as they are; SAMed names that differ from ours (--ckpt, --lora_ckpt, --vit_name,
/// --output_dir, --is_savenii) are declared as aliases on the options themselves and shown by --help.
/// </summary>
public static class OptionAliases
{
    /// <summary>Rewrites --snake_case tokens (also --snake_case=value) that are no option's name to the --kebab-case option they spell.</summary>
    public static string[] Normalize(string[] args, RootCommand root)
    {
        var names = root.Subcommands.SelectMany(c => c.Options).SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet(StringComparer.Ordinal);
        return [.. args.Select(arg => Normalize(arg, names))];
    }

    private static string Normalize(string arg, HashSet<string> names)
    {
        if (!arg.StartsWith("--", StringComparison.Ordinal) || !arg.Contains('_', StringComparison.Ordinal))
            return arg;
        int equals = arg.IndexOf('=', StringComparison.Ordinal);
        string name = equals < 0 ? arg : arg[..equals];
        if (names.Contains(name))
            return arg;
        string kebab = name.Replace('_', '-');
        return names.Contains(kebab) ? kebab + arg[name.Length..] : arg;
    }
}
