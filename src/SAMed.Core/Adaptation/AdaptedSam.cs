using SAMed.Checkpoints;
using SAMed.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Adaptation;

/// <summary>
/// A SAM prepared for one adaptation strategy: which tensors train, and the checkpoint that holds them. Each
/// strategy's class alone knows its checkpoint's key names (<see cref="CheckpointTensors"/>); loading checks every
/// name and shape before anything is copied, and saving goes through a temporary file.
/// </summary>
public abstract class AdaptedSam : nn.Module
{
    protected AdaptedSam(string name, Sam sam) : base(name)
    {
        Sam = sam;
        register_module("sam", sam);
    }

    public Sam Sam { get; }

    /// <summary>The description the model was built from (set by <see cref="ModelFactory"/>); written beside its checkpoints.</summary>
    public ModelSpec? Spec { get; internal set; }

    /// <summary>The strategy's name as the config spells it (<see cref="Strategies"/>).</summary>
    public abstract string Strategy { get; }

    /// <summary>Strategy parameters for messages, e.g. "rank 4".</summary>
    public virtual string Parameters => "";

    /// <summary>The trainable tensors under their checkpoint names, in the checkpoint's order.</summary>
    public abstract IEnumerable<(string name, Parameter p)> TrainableParameters();

    /// <summary>What the strategy's checkpoint holds, in its order (live tensors; detached on writing).</summary>
    public abstract IEnumerable<KeyValuePair<string, Tensor>> CheckpointTensors();

    public long TrainableParameterCount() => TrainableParameters().Sum(p => p.p.numel());

    /// <summary>Every tensor that does not train (they must not change during a run).</summary>
    public IEnumerable<Parameter> FrozenParameters() => parameters().Where(p => !p.requires_grad);

    public SamOutput Forward(Tensor images, bool multimaskOutput, int imageSize) => Sam.Forward(images, multimaskOutput, imageSize);

    public (Tensor LowResLogits, Tensor IouPredictions) ForwardLowRes(Tensor images, bool multimaskOutput) => Sam.ForwardLowRes(images, multimaskOutput);

    public SamForwardTrace ForwardTrace(Tensor images, bool multimaskOutput, int imageSize) => Sam.ForwardTrace(images, multimaskOutput, imageSize);

    /// <summary>
    /// Writes the strategy's checkpoint (temporary file, then rename) and, when the model has a <see cref="Spec"/>,
    /// its description beside it (<see cref="ModelSpecFile"/>).
    /// </summary>
    public void SaveCheckpoint(string path)
    {
        PthStateDict.Write(path, CheckpointTensors());
        if (Spec is not null)
            ModelSpecFile.Save(Spec, ModelSpecFile.PathBeside(path));
    }

    /// <summary>
    /// Loads the strategy's checkpoint: every expected tensor present with the model's shape and no unknown keys; all
    /// is checked before anything is copied. A mismatch names the file, what it holds and what the model is.
    /// </summary>
    public void LoadCheckpoint(string path)
    {
        using var file = new StrategyCheckpoint(path);
        LoadCheckpoint(file);
    }

    /// <summary>Loads a checkpoint already read (e.g. for its <see cref="StrategyCheckpoint.Contents"/>), as <see cref="LoadCheckpoint(string)"/>.</summary>
    public void LoadCheckpoint(StrategyCheckpoint checkpoint)
    {
        var file = checkpoint.Tensors;
        var expected = CheckpointTensors().ToDictionary(kv => kv.Key, kv => kv.Value);
        var problems = new List<string>();
        foreach (var (key, want) in expected)
        {
            if (!file.TryGetValue(key, out var have))
                problems.Add($"missing {key} [{SamCheckpoint.Shape(want)}]");
            else if (!have.shape.SequenceEqual(want.shape))
                problems.Add($"{key} is [{SamCheckpoint.Shape(have)}] in the file but the model needs [{SamCheckpoint.Shape(want)}]");
        }
        foreach (var key in file.Keys.Where(k => !expected.ContainsKey(k)))
            problems.Add($"unexpected {key} [{SamCheckpoint.Shape(file[key])}]");
        if (problems.Count > 0)
        {
            var held = CheckpointContents.Describe(file);
            throw new InvalidDataException(
                $"{checkpoint.Path}: this checkpoint is {held}, but the model is {Describe()} "
                + $"({problems.Count} problem(s): {string.Join("; ", problems.Take(3))}{(problems.Count > 3 ? "; ..." : "")})");
        }
        SamCheckpoint.CopyInto(expected, file);
    }

    /// <summary>"vit_b-width encoder (12 blocks), lora rank 4, 8 classes" style, for messages.</summary>
    public string Describe()
    {
        var c = Sam.Config;
        string size = SamBuilder.FromEncoder(c.EncoderEmbedDim, c.EncoderDepth) ?? $"{c.EncoderEmbedDim}-wide, {c.EncoderDepth}-block";
        string parameters = Parameters.Length > 0 ? $" {Parameters}" : "";
        return $"{size}, {Strategy}{parameters}, {c.NumClasses} classes";
    }

    /// <summary>SAMed's trained parts besides the encoder: every prompt_encoder.* and mask_decoder.* tensor, prompt encoder first.</summary>
    protected IEnumerable<KeyValuePair<string, Tensor>> PromptEncoderAndDecoderState()
    {
        var state = ModuleStateDict.Ordered(Sam).ToList();
        foreach (var entry in state.Where(kv => kv.Key.StartsWith("prompt_encoder.", StringComparison.Ordinal)))
            yield return entry;
        foreach (var entry in state.Where(kv => kv.Key.StartsWith("mask_decoder.", StringComparison.Ordinal)))
            yield return entry;
    }

    /// <summary>Trainable prompt-encoder and mask-decoder parameters under their SAM names.</summary>
    protected IEnumerable<(string name, Parameter p)> PromptEncoderAndDecoderParameters() =>
        Sam.named_parameters().Where(t => IsPromptOrDecoder(t.name) && t.parameter.requires_grad).Select(t => (t.name, t.parameter));

    protected static bool IsPromptOrDecoder(string name) =>
        name.StartsWith("prompt_encoder.", StringComparison.Ordinal) || name.StartsWith("mask_decoder.", StringComparison.Ordinal);

    /// <summary>Freezes the whole image encoder (SAMed: "for param in sam.image_encoder.parameters(): param.requires_grad = False").</summary>
    protected static void FreezeImageEncoder(Sam sam)
    {
        foreach (var (_, parameter) in sam.ImageEncoder.named_parameters())
            parameter.requires_grad = false;
    }
}
