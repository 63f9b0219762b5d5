using static TorchSharp.torch;

namespace SAMed.Modeling;

/// <summary>
/// The one list of model sizes: SAM's registry (vit_b, vit_l, vit_h; "default" is vit_h) and "tiny", a small SAM
/// for CPU smoke runs and tests (<see cref="SamConfig.Tiny"/>), at SAMed's image size and classes.
/// </summary>
public static class SamBuilder
{
    public static IReadOnlyList<string> ModelTypes { get; } = ["vit_b", "vit_l", "vit_h", "tiny"];

    /// <summary>The sizes with official SAM checkpoints (their image encoder is meant to be loaded, not drawn).</summary>
    public static IReadOnlyList<string> PretrainedTypes { get; } = ["vit_b", "vit_l", "vit_h"];

    /// <summary>The canonical name ("default" is vit_h); throws for an unknown size.</summary>
    public static string Canonical(string modelType) => modelType switch
    {
        "default" => "vit_h",
        _ when ModelTypes.Contains(modelType) => modelType,
        _ => throw new ArgumentException($"unknown SAM model type '{modelType}'; expected one of {string.Join(", ", ModelTypes)}", nameof(modelType)),
    };

    public static bool IsKnown(string? modelType) => modelType is not null && (modelType == "default" || ModelTypes.Contains(modelType));

    public static SamConfig Config(string modelType, int imageSize = 1024, int numClasses = 3) => Canonical(modelType) switch
    {
        "vit_b" => SamConfig.VitB(imageSize, numClasses),
        "vit_l" => SamConfig.VitL(imageSize, numClasses),
        "vit_h" => SamConfig.VitH(imageSize, numClasses),
        _ => SamConfig.Tiny(imageSize, numClasses),
    };

    /// <summary>
    /// The size whose image encoder has this width and depth (how a SAM checkpoint says what it is); null when none.
    /// </summary>
    public static string? FromEncoder(long embedDim, int depth) =>
        ModelTypes.FirstOrDefault(t => Config(t) is var c && c.EncoderEmbedDim == embedDim && c.EncoderDepth == depth);

    public static Sam Create(string modelType, int imageSize = 1024, int numClasses = 3, Device? device = null) =>
        new(Config(modelType, imageSize, numClasses), device);
}
