namespace SAMed.Modeling;

/// <summary>
/// Every hyperparameter of a SAMed model. <see cref="NumClasses"/> is SAMed's num_multimask_outputs: the mask
/// decoder has NumClasses + 1 mask tokens (background first) and returns all of them.
/// </summary>
public sealed record SamConfig
{
    public required int ImageSize { get; init; }
    public int PatchSize { get; init; } = 16;
    public int InChans { get; init; } = 3;
    public required int EncoderEmbedDim { get; init; }
    public required int EncoderDepth { get; init; }
    public required int EncoderNumHeads { get; init; }
    public double MlpRatio { get; init; } = 4.0;
    public bool QkvBias { get; init; } = true;
    public bool UseRelPos { get; init; } = true;
    public int WindowSize { get; init; } = 14;
    public required IReadOnlyList<int> GlobalAttnIndexes { get; init; }
    public double EncoderLayerNormEps { get; init; } = 1e-6;
    public int PromptEmbedDim { get; init; } = 256;
    public int MaskInChans { get; init; } = 16;
    public int DecoderDepth { get; init; } = 2;
    public int DecoderHeads { get; init; } = 8;
    public int DecoderMlpDim { get; init; } = 2048;
    public int IouHeadDepth { get; init; } = 3;
    public int IouHeadHiddenDim { get; init; } = 256;
    public int NumClasses { get; init; } = 3;
    public IReadOnlyList<float> PixelMean { get; init; } = SamPixelMean;
    public IReadOnlyList<float> PixelStd { get; init; } = SamPixelStd;

    public static IReadOnlyList<float> SamPixelMean { get; } = [123.675f, 116.28f, 103.53f];
    public static IReadOnlyList<float> SamPixelStd { get; } = [58.395f, 57.12f, 57.375f];

    /// <summary>Tokens per side of the image embedding (image_size // patch_size).</summary>
    public int ImageEmbeddingSize => ImageSize / PatchSize;

    public int NumMaskTokens => NumClasses + 1;

    public bool IsGlobalAttention(int blockIndex) => GlobalAttnIndexes.Contains(blockIndex);

    public static SamConfig VitB(int imageSize = 1024, int numClasses = 3) => new()
    {
        ImageSize = imageSize,
        NumClasses = numClasses,
        EncoderEmbedDim = 768,
        EncoderDepth = 12,
        EncoderNumHeads = 12,
        GlobalAttnIndexes = [2, 5, 8, 11],
    };

    public static SamConfig VitL(int imageSize = 1024, int numClasses = 3) => new()
    {
        ImageSize = imageSize,
        NumClasses = numClasses,
        EncoderEmbedDim = 1024,
        EncoderDepth = 24,
        EncoderNumHeads = 16,
        GlobalAttnIndexes = [5, 11, 17, 23],
    };

    public static SamConfig VitH(int imageSize = 1024, int numClasses = 3) => new()
    {
        ImageSize = imageSize,
        NumClasses = numClasses,
        EncoderEmbedDim = 1280,
        EncoderDepth = 32,
        EncoderNumHeads = 16,
        GlobalAttnIndexes = [7, 15, 23, 31],
    };

    /// <summary>
    /// A small SAM for CPU smoke runs and tests (not an official size): a 4-block ViT of width 64 with patch 4,
    /// 4 heads, window 4 and global blocks 1 and 3, a 32-wide prompt encoder and two-way decoder, and pixel mean 0,
    /// std 1 (inputs in [0, 1], as SAMed feeds them).
    /// </summary>
    public static SamConfig Tiny(int imageSize = 64, int numClasses = 3) => new()
    {
        ImageSize = imageSize,
        PatchSize = 4,
        NumClasses = numClasses,
        EncoderEmbedDim = 64,
        EncoderDepth = 4,
        EncoderNumHeads = 4,
        WindowSize = 4,
        GlobalAttnIndexes = [1, 3],
        PromptEmbedDim = 32,
        MaskInChans = 4,
        DecoderDepth = 2,
        DecoderHeads = 8,
        DecoderMlpDim = 64,
        IouHeadDepth = 3,
        IouHeadHiddenDim = 32,
        PixelMean = [0f, 0f, 0f],
        PixelStd = [1f, 1f, 1f],
    };

    /// <summary>Value equality, comparing the list members element by element.</summary>
    public bool Equals(SamConfig? other) =>
        other is not null
        && (ImageSize, PatchSize, InChans, EncoderEmbedDim, EncoderDepth, EncoderNumHeads, MlpRatio, QkvBias, UseRelPos, WindowSize)
            == (other.ImageSize, other.PatchSize, other.InChans, other.EncoderEmbedDim, other.EncoderDepth, other.EncoderNumHeads, other.MlpRatio, other.QkvBias, other.UseRelPos, other.WindowSize)
        && (EncoderLayerNormEps, PromptEmbedDim, MaskInChans, DecoderDepth, DecoderHeads, DecoderMlpDim, IouHeadDepth, IouHeadHiddenDim, NumClasses)
            == (other.EncoderLayerNormEps, other.PromptEmbedDim, other.MaskInChans, other.DecoderDepth, other.DecoderHeads, other.DecoderMlpDim, other.IouHeadDepth, other.IouHeadHiddenDim, other.NumClasses)
        && GlobalAttnIndexes.SequenceEqual(other.GlobalAttnIndexes)
        && PixelMean.SequenceEqual(other.PixelMean)
        && PixelStd.SequenceEqual(other.PixelStd);

    public override int GetHashCode() => HashCode.Combine(ImageSize, EncoderEmbedDim, EncoderDepth, NumClasses, GlobalAttnIndexes.Count);

    /// <summary>Throws a clear error for sizes the architecture cannot be built with.</summary>
    public void Validate()
    {
        static void Require(bool condition, string message)
        {
            if (!condition)
                throw new ArgumentException($"invalid SAM configuration: {message}");
        }

        Require(PatchSize > 0 && ImageSize > 0 && ImageSize % PatchSize == 0, $"image size {ImageSize} must be a positive multiple of the patch size {PatchSize}");
        Require(EncoderDepth > 0 && EncoderNumHeads > 0 && EncoderEmbedDim % EncoderNumHeads == 0, $"encoder embed dim {EncoderEmbedDim} must be divisible by its {EncoderNumHeads} heads");
        Require(GlobalAttnIndexes.All(i => i >= 0 && i < EncoderDepth), $"global attention indexes [{string.Join(", ", GlobalAttnIndexes)}] must lie in 0..{EncoderDepth - 1}");
        Require(WindowSize > 0 || GlobalAttnIndexes.Count == EncoderDepth, "window size must be positive for windowed blocks");
        Require(PromptEmbedDim % 8 == 0 && PromptEmbedDim % 2 == 0, $"prompt embed dim {PromptEmbedDim} must be divisible by 8");
        Require(PromptEmbedDim / 2 % DecoderHeads == 0 && PromptEmbedDim % DecoderHeads == 0, $"prompt embed dim {PromptEmbedDim} must suit {DecoderHeads} decoder heads");
        Require(MaskInChans % 4 == 0 && MaskInChans > 0, $"mask_in_chans {MaskInChans} must be a positive multiple of 4");
        Require(NumClasses > 0, $"num_classes {NumClasses} must be positive");
        Require(PixelMean.Count == InChans && PixelStd.Count == InChans, $"pixel mean and std need {InChans} values");
    }
}
