using System.Text.Json.Serialization;
using SAMed.Modeling;

namespace SAMed.Adaptation;

/// <summary>
/// Everything that says which model a checkpoint belongs to: the SAM size, input size, classes, the adaptation
/// strategy with its parameters, the frozen encoder's precision, the pixel normalisation and the seed a
/// random-initialised encoder was drawn with. Training, inference, export, bench, info and the tests build every
/// model from one of these through <see cref="ModelFactory"/>. JSON keys follow SAMed's train.py names.
/// </summary>
public sealed record ModelSpec
{
    /// <summary>vit_b, vit_l, vit_h or tiny (<see cref="SamBuilder.ModelTypes"/>).</summary>
    [JsonPropertyName("vit_name")]
    public string Size { get; init; } = "vit_b";

    public int ImgSize { get; init; } = 512;

    public int NumClasses { get; init; } = 8;

    /// <summary>lora, adapter, decoder or full (<see cref="Strategies"/>).</summary>
    public string Strategy { get; init; } = Strategies.Lora;

    /// <summary>LoRA rank (used by the lora strategy only).</summary>
    public int Rank { get; init; } = 4;

    /// <summary>
    /// semantic (SAMed: num_classes + 1 mask tokens, no prompts; a SAM checkpoint loads as SAMed's load_from) or
    /// promptable (SAM's 3 multimask outputs and IoU head driven by prompts; a SAM checkpoint loads completely).
    /// </summary>
    public string Mode { get; init; } = SemanticMode;

    public const string SemanticMode = "semantic";
    public const string PromptableMode = "promptable";

    /// <summary>float32, or bfloat16 for a frozen encoder (lora and decoder).</summary>
    public string Precision { get; init; } = "float32";

    /// <summary>SAMed feeds images in [0, 1] with pixel_mean 0 and pixel_std 1.</summary>
    public IReadOnlyList<float> PixelMean { get; init; } = SamedPixelMean;

    public IReadOnlyList<float> PixelStd { get; init; } = SamedPixelStd;

    /// <summary>torch seed set before the model is built (a model without SAM checkpoint draws its encoder from it).</summary>
    public int Seed { get; init; } = 1234;

    /// <summary>An architecture given in full (e.g. a reference case's); null: the one of <see cref="Size"/>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public SamConfig? Custom { get; init; }

    public static IReadOnlyList<float> SamedPixelMean { get; } = [0f, 0f, 0f];

    public static IReadOnlyList<float> SamedPixelStd { get; } = [1f, 1f, 1f];

    /// <summary>The SAM architecture: the size's at img_size with num_classes + 1 mask tokens and this pixel normalisation.</summary>
    [JsonIgnore]
    public SamConfig Architecture => Custom ?? SamBuilder.Config(Size, ImgSize, NumClasses) with { PixelMean = PixelMean, PixelStd = PixelStd };

    /// <summary>Value equality, comparing the pixel normalisation element by element.</summary>
    public bool Equals(ModelSpec? other) =>
        other is not null
        && (Size, ImgSize, NumClasses, Strategy, Rank, Precision, Seed, Mode) == (other.Size, other.ImgSize, other.NumClasses, other.Strategy, other.Rank, other.Precision, other.Seed, other.Mode)
        && PixelMean.SequenceEqual(other.PixelMean)
        && PixelStd.SequenceEqual(other.PixelStd)
        && Equals(Custom, other.Custom);

    public override int GetHashCode() => HashCode.Combine(Size, ImgSize, NumClasses, Strategy, Rank, Seed);

    /// <summary>"vit_b 512, lora rank 4, 8 classes".</summary>
    public override string ToString() =>
        $"{(Custom is null || SamBuilder.IsKnown(Size) ? Size : "custom")} {ImgSize}{(Mode == PromptableMode ? " promptable" : "")}, "
        + $"{Strategy}{(Strategy == Strategies.Lora ? $" rank {Rank}" : "")}, {NumClasses} classes";

    /// <summary>Every problem of the specification, each naming the key; empty when it can be built.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (Custom is null && !SamBuilder.IsKnown(Size))
            problems.Add($"vit_name '{Size}' must be one of {string.Join(", ", SamBuilder.ModelTypes)}");
        if (!Strategies.IsKnown(Strategy))
            problems.Add($"strategy '{Strategy}' must be one of {string.Join(", ", Strategies.Names)}");
        if (Strategy == Strategies.Lora && Rank < 1)
            problems.Add($"rank {Rank} must be at least 1 for the lora strategy");
        if (Mode is not (SemanticMode or PromptableMode))
            problems.Add($"mode '{Mode}' must be semantic or promptable");
        if (Precision is not ("float32" or "bfloat16"))
            problems.Add($"precision '{Precision}' must be float32 or bfloat16");
        else if (Precision == "bfloat16" && Strategies.IsKnown(Strategy) && !Strategies.FreezesEncoderEntirely(Strategy))
            problems.Add($"precision bfloat16 holds a frozen encoder in bfloat16; the {Strategy} strategy trains encoder weights (use lora or decoder, or float32)");
        if (problems.Count == 0)
        {
            try
            {
                Architecture.Validate();
            }
            catch (ArgumentException e)
            {
                problems.Add(e.Message);
            }
        }
        return problems;
    }

    /// <summary>Throws one message listing every problem, naming <paramref name="source"/>.</summary>
    public void Validate(string source)
    {
        var problems = Problems();
        if (problems.Count > 0)
            throw new ArgumentException($"{source}: {string.Join("; ", problems)}");
    }
}
