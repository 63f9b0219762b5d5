using static TorchSharp.torch;

namespace SAMed.Modeling;

/// <summary>SAM's model registry (vit_b, vit_l, vit_h; "default" is vit_h) for SAMed's image size and classes.</summary>
public static class SamBuilder
{
    public static IReadOnlyList<string> ModelTypes { get; } = ["vit_b", "vit_l", "vit_h"];

    public static SamConfig Config(string modelType, int imageSize = 1024, int numClasses = 3) => modelType switch
    {
        "vit_b" => SamConfig.VitB(imageSize, numClasses),
        "vit_l" => SamConfig.VitL(imageSize, numClasses),
        "vit_h" or "default" => SamConfig.VitH(imageSize, numClasses),
        _ => throw new ArgumentException($"unknown SAM model type '{modelType}'; expected one of {string.Join(", ", ModelTypes)}", nameof(modelType)),
    };

    public static Sam Create(string modelType, int imageSize = 1024, int numClasses = 3, Device? device = null) =>
        new(Config(modelType, imageSize, numClasses), device);
}
