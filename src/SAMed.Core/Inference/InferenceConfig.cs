using SAMed.Modeling;

namespace SAMed.Inference;

/// <summary>
/// Everything inference needs besides the weights: the SAM architecture (image size, classes, pixel normalisation),
/// the LoRA rank of the checkpoint it came with (0 when merged or absent), SAMed's test protocol sizes, and how
/// NIfTI volumes are sliced and windowed. Saved as snake_case JSON beside exported checkpoints.
/// </summary>
public sealed record InferenceConfig
{
    /// <summary>vit_b, vit_l, vit_h, tiny, or custom (an architecture given in full).</summary>
    public string ModelType { get; init; } = "vit_b";

    public required SamConfig Model { get; init; }

    /// <summary>The adaptation strategy of the checkpoint it came with (lora, adapter, decoder, full).</summary>
    public string Strategy { get; init; } = Adaptation.Strategies.Lora;

    public int LoraRank { get; init; }

    /// <summary>SAMed's input_size: every slice is first zoomed to this size (the training crop), then to the image size.</summary>
    public int InputSize { get; init; } = 224;

    /// <summary>On-disk voxel axis (0 = x, 1 = y, 2 = z) that NIfTI volumes are sliced along; SAMed's layout is 2.</summary>
    public int SliceAxis { get; init; } = 2;

    /// <summary>Intensity window (CT HU) mapped to [0, 1] before inference, as SAMed's preprocessing does.</summary>
    public double WindowMin { get; init; } = -125;

    public double WindowMax { get; init; } = 275;

    /// <summary>
    /// torch seed set before a model without SAM checkpoint is built: a tiny model's frozen encoder is random, so
    /// testing it needs the weights its training run drew (the trainer seeds with its seed, 1234 by default, then builds SAM).
    /// </summary>
    public int Seed { get; init; } = 1234;

    /// <summary>Names of classes 1..N for reports and overlays; null: SAMed's Synapse organs for 8 classes, else "class i".</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    public int ImageSize => Model.ImageSize;

    public int NumClasses => Model.NumClasses;

    /// <summary>SAMed's test.py: multimask_output = num_classes &gt; 1.</summary>
    public bool MultimaskOutput => Model.NumClasses > 1;

    public IReadOnlyList<string> ResolvedClassNames => ClassNames ?? Data.ClassNames.For(NumClasses);

    public static IReadOnlyList<string> ModelTypes => SamBuilder.ModelTypes;

    /// <summary>
    /// A preset as SAMed's test.py builds it: SAM's registry architecture at <paramref name="imageSize"/> with
    /// num_classes mask outputs and pixel_mean 0, pixel_std 1 (inputs are in [0, 1]); "tiny" is a small SAM for CPU
    /// smoke runs and tests (see <see cref="SamConfig.Tiny"/>).
    /// </summary>
    public static InferenceConfig ForModel(string modelType, int imageSize = 512, int numClasses = 8, int loraRank = 4)
    {
        var spec = new Adaptation.ModelSpec { Size = SamBuilder.Canonical(modelType), ImgSize = imageSize, NumClasses = numClasses, Rank = Math.Max(1, loraRank) };
        return FromSpec(spec) with { LoraRank = loraRank };
    }

    /// <summary>The inference settings of a model description (SAMed's test protocol defaults for the rest).</summary>
    public static InferenceConfig FromSpec(Adaptation.ModelSpec spec) => new()
    {
        ModelType = spec.Custom is null ? SamBuilder.Canonical(spec.Size) : "custom",
        Model = spec.Architecture,
        Strategy = spec.Strategy,
        LoraRank = spec.Strategy == Adaptation.Strategies.Lora ? spec.Rank : 0,
        Seed = spec.Seed,
    };

    /// <summary>The model description of these settings (pixel normalisation and architecture from <see cref="Model"/>).</summary>
    public Adaptation.ModelSpec ToSpec() => new()
    {
        Size = SamBuilder.IsKnown(ModelType) ? ModelType : "custom",
        ImgSize = Model.ImageSize,
        NumClasses = Model.NumClasses,
        Strategy = Strategy,
        Rank = Math.Max(1, LoraRank),
        PixelMean = Model.PixelMean,
        PixelStd = Model.PixelStd,
        Seed = Seed,
        Custom = SamBuilder.IsKnown(ModelType) && SamBuilder.Config(ModelType, Model.ImageSize, Model.NumClasses) with { PixelMean = Model.PixelMean, PixelStd = Model.PixelStd } == Model ? null : Model,
    };

    /// <summary>Throws a clear error for settings inference cannot use.</summary>
    public void Validate(string source)
    {
        var problems = new List<string>();
        try
        {
            Model.Validate();
        }
        catch (ArgumentException e)
        {
            problems.Add(e.Message);
        }
        if (InputSize < 1)
            problems.Add($"input_size {InputSize} must be positive");
        if (SliceAxis is < 0 or > 2)
            problems.Add($"slice_axis {SliceAxis} must be 0, 1 or 2");
        if (!(WindowMax > WindowMin) || !double.IsFinite(WindowMin) || !double.IsFinite(WindowMax))
            problems.Add($"window [{WindowMin}, {WindowMax}] must be finite and non-empty");
        if (LoraRank < 0)
            problems.Add($"lora_rank {LoraRank} must not be negative");
        if (Model.NumClasses > 255)
            problems.Add($"num_classes {Model.NumClasses} does not fit uint8 label maps");
        if (ClassNames is not null && ClassNames.Count != Model.NumClasses)
            problems.Add($"class_names has {ClassNames.Count} names for {Model.NumClasses} classes");
        if (problems.Count > 0)
            throw new InvalidDataException($"{source}: invalid inference configuration: {string.Join("; ", problems)}");
    }
}
