using System.CommandLine;

namespace SAMed.Train.Tests;

/// <summary>One vocabulary: one name per concept, other spellings (SAMed's argparse names included) as aliases.</summary>
public class OptionNameTests
{
    private static T? Value<T>(ParseResult parse, string name)
    {
        Assert.True(parse.Errors.Count == 0, string.Join("; ", parse.Errors.Select(e => e.Message)));
        return parse.GetValue<T>(name);
    }

    [Fact]
    public void SamedTestPyNamesReachOurOptions()
    {
        var parse = Samed.Parse("test", "--ckpt", "sam.pth", "--lora_ckpt", "lora.pth", "--vit_name", "vit_l", "--volume_path", "vol",
            "--list_dir", "lists", "--output_dir", "out", "--img_size", "224", "--input_size", "112", "--num_classes", "5", "--rank", "8",
            "--seed", "7", "--is_savenii");
        Assert.Equal("sam.pth", Value<string>(parse, "--sam-checkpoint"));
        Assert.Equal("lora.pth", Value<string>(parse, "--lora-checkpoint"));
        Assert.Equal("vit_l", Value<string>(parse, "--model"));
        Assert.Equal("vol", Value<string>(parse, "--volume-path"));
        Assert.Equal("lists", Value<string>(parse, "--list-dir"));
        Assert.Equal("out", Value<string>(parse, "--output"));
        Assert.Equal(224, Value<int?>(parse, "--img-size"));
        Assert.Equal(112, Value<int?>(parse, "--input-size"));
        Assert.Equal(5, Value<int?>(parse, "--num-classes"));
        Assert.Equal(8, Value<int?>(parse, "--rank"));
        Assert.Equal(7, Value<int?>(parse, "--seed"));
        Assert.NotNull(parse.GetResult(parse.CommandResult.Command.Options.Single(o => o.Name == "--save-nifti")));
    }

    [Fact]
    public void SamedTrainPyNamesReachOurOptions()
    {
        var parse = Samed.Parse("train", "--root_path", "data/train_npz", "--output", "out", "--warmup", "--AdamW", "--list_dir", "lists",
            "--num_classes", "8", "--max_epochs", "3", "--stop_epoch", "2", "--batch_size", "2", "--n_gpu", "1", "--base_lr", "0.01",
            "--img_size", "64", "--seed", "3", "--vit_name", "tiny", "--ckpt", "sam.pth", "--lora_ckpt", "l.pth", "--rank", "2",
            "--warmup_period", "5", "--dice_param", "0.5");
        Assert.Equal("data/train_npz", Value<string>(parse, "--root-path"));
        Assert.Equal("tiny", Value<string>(parse, "--model"));
        Assert.Equal("sam.pth", Value<string>(parse, "--sam-checkpoint"));
        Assert.Equal("l.pth", Value<string>(parse, "--lora-checkpoint"));
        Assert.Equal("0.5", Value<string>(parse, "--dice-weight"));
        Assert.Equal("1", Value<string>(parse, "--n-gpu"));
        Assert.True(Value<bool>(parse, "--warmup"));
        Assert.True(Value<bool>(parse, "--AdamW"));
    }

    [Theory]
    [InlineData("test")]
    [InlineData("predict")]
    [InlineData("export")]
    [InlineData("train")]
    public void LoraCheckpointHasOneNameAndTheOtherSpellingsAsAliases(string command)
    {
        foreach (string spelling in new[] { "--lora-checkpoint", "--lora", "--lora_ckpt", "--lora_checkpoint" })
        {
            var parse = Samed.Parse(command, spelling, "x.pth");
            var option = parse.CommandResult.Command.Options.Single(o => o.Name == "--lora-checkpoint");
            Assert.Equal("x.pth", parse.GetValue<string>(option.Name));
        }
    }

    [Theory]
    [InlineData("train")]
    [InlineData("test")]
    [InlineData("predict")]
    [InlineData("score")]
    [InlineData("prepare")]
    [InlineData("synth")]
    [InlineData("export")]
    [InlineData("bench")]
    public void EveryCommandThatWritesTakesDashOAndDashDashOutput(string command)
    {
        var option = CommandOf(command).Options.SingleOrDefault(o => o.Name == "--output");
        Assert.NotNull(option);
        Assert.Contains("-o", option.Aliases);
    }

    [Fact]
    public void SameConceptSameNameAcrossCommands()
    {
        foreach (string command in new[] { "test", "predict", "export", "info", "bench", "train" })
            Assert.Contains(CommandOf(command).Options, o => o.Name == "--model" && o.Aliases.Contains("--vit-name"));
        foreach (string command in new[] { "test", "score" })
            Assert.Contains(CommandOf(command).Options, o => o.Name == "--spacing" && o.Arity.MaximumNumberOfValues == 1);
        foreach (string command in new[] { "test", "score" })
            Assert.Contains(CommandOf(command).Options, o => o.Name == "--absent");
        foreach (string command in new[] { "test", "score", "prepare" })
            Assert.Contains(CommandOf(command).Options, o => o.Name == "--label-map");
        foreach (string command in new[] { "test", "predict", "bench" })
            Assert.Contains(CommandOf(command).Options, o => o.Name == "--batch-size" && o.Aliases.Contains("--batch"));
    }

    [Fact]
    public void SynthCountsAndPrepareNamesAreDifferentOptions()
    {
        var synth = CommandOf("synth");
        Assert.Contains(synth.Options, o => o.Name == "--test-count" && o.Aliases.Contains("--test-cases"));
        Assert.Contains(synth.Options, o => o.Name == "--train-count" && o.Aliases.Contains("--train-cases"));
        Assert.Contains(CommandOf("prepare").Options, o => o.Name == "--test-cases");
    }

    [Fact]
    public void SnakeCaseOfAnUnknownNameStaysUnknown()
    {
        var run = Samed.Run("test", "--no_such_thing", "1");
        run.AssertFails(Cli.ExitCodes.BadInput, "--no_such_thing");
    }

    private static Command CommandOf(string name) => Cli.CommandRunner.CreateRoot().Subcommands.Single(c => c.Name == name);
}
