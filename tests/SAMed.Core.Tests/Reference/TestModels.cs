using SAMed.Modeling;

namespace SAMed.Tests.Reference;

/// <summary>Small SAM configurations for tests that need a model of SAM's structure but no reference weights.</summary>
public static class TestModels
{
    /// <summary>A 2-block ViT of width 32 at 64 x 64 (block 1 global), with a 16-wide prompt encoder and decoder.</summary>
    public static SamConfig Small(int numClasses = 2, int windowSize = 2) => new()
    {
        ImageSize = 64,
        EncoderEmbedDim = 32,
        EncoderDepth = 2,
        EncoderNumHeads = 2,
        WindowSize = windowSize,
        GlobalAttnIndexes = [1],
        PromptEmbedDim = 16,
        MaskInChans = 4,
        DecoderMlpDim = 32,
        IouHeadHiddenDim = 16,
        NumClasses = numClasses,
    };
}
