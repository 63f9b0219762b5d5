using SAMed.Adaptation;
using SAMed.Modeling;

namespace SAMed.Inference;

/// <summary>
/// Which model a strategy checkpoint belongs to, from the description written beside it (<see cref="ModelSpecFile"/>),
/// else from its keys and shapes (<see cref="CheckpointContents"/>: strategy, rank, classes, encoder size), with the
/// user's options filling what neither says. An option that contradicts the checkpoint is one sentence naming both.
/// </summary>
public static class CheckpointModel
{
    /// <param name="strategyCheckpoint">The file of <see cref="ModelLoadOptions.LoraCheckpoint"/> (null when none), held by the caller so that the model loads the same read.</param>
    public static InferenceConfig Resolve(ModelLoadOptions options, StrategyCheckpoint? strategyCheckpoint)
    {
        string? path = options.LoraCheckpoint;
        if (path != strategyCheckpoint?.Path)
            throw new ArgumentException($"the strategy checkpoint given ({strategyCheckpoint?.Path ?? "none"}) is not the options' ({path ?? "none"})", nameof(strategyCheckpoint));
        var contents = strategyCheckpoint?.Contents;
        var described = path is null ? null : ModelSpecFile.FindBeside(path);
        if (options.ConfigPath is not null)
        {
            var fromFile = InferenceConfigFile.Load(options.ConfigPath);
            var config = SegmentationModel.Override(fromFile, options with
            {
                NumClasses = options.NumClasses ?? contents?.NumClasses,
                Rank = options.Rank ?? contents?.Rank,
            }, options.ConfigPath);
            return contents is null ? config : config with { Strategy = contents.Strategy };
        }
        if (described is not null)
            return FromDescription(options, path!, described, contents);
        return FromOptions(options, path, contents);
    }

    private static InferenceConfig FromDescription(ModelLoadOptions options, string path, ModelSpec described, CheckpointContents? contents)
    {
        string held = Held(path, described);
        RequireDescribedSize(held, options.ModelType, described);
        if (options.NumClasses is int classes && classes != described.NumClasses)
            throw new ArgumentException($"{held}, not {classes} classes as --num-classes asks; leave --num-classes out");
        if (options.Rank is int rank && described.Strategy == Strategies.Lora && rank != described.Rank)
            throw new ArgumentException($"{held}, not rank {rank} as --rank asks; leave --rank out");
        if (contents is not null && (contents.Strategy != described.Strategy || (contents.Rank is int r && r != described.Rank) || (contents.NumClasses is int n && n != described.NumClasses)))
            throw new InvalidDataException($"{held}, but the file holds {contents}; the description does not belong to this file");
        var spec = described with { ImgSize = options.ImageSize ?? described.ImgSize, Seed = options.Seed ?? described.Seed, Precision = "float32" };
        var config = InferenceConfig.FromSpec(spec);
        return config with { InputSize = options.InputSize ?? config.InputSize };
    }

    /// <summary>How a contradiction of a described checkpoint starts: "PATH: this checkpoint is SPEC (its epoch_N.json says so)".</summary>
    internal static string Held(string path, ModelSpec described) =>
        $"{path}: this checkpoint is {described} (its {Path.GetFileName(ModelSpecFile.PathBeside(path))} says so)";

    /// <summary>A --model that names another size than the description is an error.</summary>
    internal static void RequireDescribedSize(string held, string? asked, ModelSpec described)
    {
        if (asked is not null && SamBuilder.Canonical(asked) != described.Size)
            throw new ArgumentException($"{held}, not {SamBuilder.Canonical(asked)} as --model asks; leave --model out");
    }

    private static InferenceConfig FromOptions(ModelLoadOptions options, string? path, CheckpointContents? contents)
    {
        string? sizeInFile = contents?.EncoderWidth is long width && contents.EncoderDepth is int depth ? SamBuilder.FromEncoder(width, depth) : null;
        if (options.ModelType is string asked && !SamBuilder.IsKnown(asked))
            throw new ArgumentException($"unknown model type '{asked}'; expected one of {string.Join(", ", SamBuilder.ModelTypes)}");
        string size = options.ModelType is string named ? SamBuilder.Canonical(named) : sizeInFile ?? "vit_b";
        if (sizeInFile is not null && sizeInFile != size)
            throw new ArgumentException($"{path}: this checkpoint is {contents}, not {size} as --model asks; leave --model out or pass --model {sizeInFile}");
        if (options.NumClasses is int classes && contents?.NumClasses is int fileClasses && classes != fileClasses)
            throw new ArgumentException($"{path}: this checkpoint is {contents}, not {classes} classes as --num-classes asks; leave --num-classes out");
        if (options.Rank is int rank && contents?.Rank is int fileRank && rank != fileRank)
            throw new ArgumentException($"{path}: this checkpoint is {contents}, not rank {rank} as --rank asks; leave --rank out");
        if (contents?.EncoderWidth is not null && contents.EncoderDepth is not null && sizeInFile is null)
            throw new ArgumentException($"{path}: this checkpoint is {contents}, which is none of the sizes {string.Join(", ", SamBuilder.ModelTypes)}; pass --config with its architecture");

        var config = InferenceConfig.ForModel(size, options.ImageSize ?? 512, options.NumClasses ?? contents?.NumClasses ?? 8, options.Rank ?? contents?.Rank ?? 4)
            with
        { Strategy = contents?.Strategy ?? Strategies.Lora };
        if (options.InputSize is int inputSize)
            config = config with { InputSize = inputSize };
        if (options.Seed is int seed)
            config = config with { Seed = seed };
        config.Validate("model options");
        return config;
    }
}
