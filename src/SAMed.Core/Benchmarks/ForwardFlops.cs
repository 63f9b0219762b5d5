using SAMed.Modeling;

namespace SAMed.Benchmarks;

/// <summary>Floating-point operations of one forward pass, by part (a multiply-add counts 2).</summary>
public sealed record FlopCount(
    double PatchEmbed, double QkvProj, double Lora, double Attention, double RelPos, double Mlp, double Neck, double PromptEncoder, double Decoder)
{
    public double Encoder => PatchEmbed + QkvProj + Lora + Attention + RelPos + Mlp + Neck;

    public double Total => Encoder + PromptEncoder + Decoder;
}

/// <summary>
/// Analytic FLOPs of SAMed's forward: only matrix products and convolutions (2 per multiply-add); element-wise work
/// (norms, softmax, GELU, additions, interpolation) is left out. With S the image size, p the patch size, D the
/// encoder width, n = S/p tokens per side, B the batch:
/// <list type="bullet">
/// <item>patch embed: 2 B n² D (3 p²);</item>
/// <item>per block, with N = B n² real tokens and windows of L = w² tokens (windowed: the grid padded to whole
/// windows of side w; global: one window, w = n): qkv 2 N D (3D) and proj 2 N D² (on the real tokens only: a
/// padded token's projection is the qkv bias, see FastAttentionKernel); attention q kᵀ and attn v 2 · 2 N L D (only real
/// tokens query; padded ones are keys and values, see RelPosAttention); decomposed rel-pos (each query against the
/// h and w tables) 2 · 2 N w D; MLP 2 · 2 N D (rD) with r the MLP ratio; LoRA (when live, rank k) 2 · 2 N (D k + k D);</item>
/// <item>neck: 2 N D C + 2 N C C 9 (C the prompt width);</item>
/// <item>prompt encoder (no prompts): the dense positional encoding 2 n² 2 (C/2);</item>
/// <item>mask decoder with T = classes + 2 tokens, Nᵢ = n² image tokens, Cᵢ = C/2, per two-way block: token
/// self-attention 2 T C C · 4 + 2 · 2 T T C; token-to-image 2 (T + T) C Cᵢ + 2 (Nᵢ + Nᵢ) C Cᵢ + 2 · 2 T Nᵢ Cᵢ;
/// token MLP 2 · 2 T C M (M its width); image-to-token the same as token-to-image; a final token-to-image
/// attention; upscaling 2 Nᵢ C (C/4) 4 + 2 (4Nᵢ) (C/4) (C/8) 4; hypernetwork MLPs (T - 1)(2 C C · 2 + 2 C C/8);
/// masks 2 (T - 1) (C/8) 16 Nᵢ; IoU head 2 (C H + H H + H (T - 1)) with H its width. All times B.</item>
/// </list>
/// </summary>
public static class ForwardFlops
{
    public static FlopCount Count(SamConfig config, int batch, int loraRank = 0)
    {
        config.Validate();
        double b = batch;
        double d = config.EncoderEmbedDim;
        double n = config.ImageEmbeddingSize;
        double tokens = b * n * n;

        double patchEmbed = 2 * tokens * d * (config.InChans * config.PatchSize * config.PatchSize);
        double qkv = 0, lora = 0, attention = 0, relPos = 0, mlp = 0;
        for (int i = 0; i < config.EncoderDepth; i++)
        {
            double side = config.IsGlobalAttention(i) ? n : config.WindowSize;
            double windowTokens = side * side;
            qkv += 2 * tokens * d * 3 * d + 2 * tokens * d * d;
            attention += 2 * 2 * tokens * windowTokens * d;
            if (config.UseRelPos)
                relPos += 2 * 2 * tokens * side * d;
            lora += loraRank > 0 ? 2 * 2 * tokens * (d * loraRank + loraRank * d) : 0;
            mlp += 2 * 2 * tokens * d * (long)(d * config.MlpRatio);
        }
        double c = config.PromptEmbedDim;
        double neck = 2 * tokens * d * c + 2 * tokens * c * c * 9;
        double promptEncoder = 2 * n * n * 2 * (c / 2);

        double t = config.NumMaskTokens + 1;
        double image = n * n;
        double ci = c / 2;
        double crossTokenToImage = 2 * (t + t) * c * ci + 2 * (image + image) * c * ci + 2 * 2 * t * image * ci;
        double perBlock = 2 * t * c * c * 4 + 2 * 2 * t * t * c
            + crossTokenToImage
            + 2 * 2 * t * c * config.DecoderMlpDim
            + crossTokenToImage;
        double masks = config.NumMaskTokens;
        double upscaling = 2 * image * c * (c / 4) * 4 + 2 * (4 * image) * (c / 4) * (c / 8) * 4;
        double hyper = masks * (2 * c * c * 2 + 2 * c * (c / 8));
        double maskProduct = 2 * masks * (c / 8) * 16 * image;
        double iouHead = IouHead(config, c, masks);
        double decoder = b * (config.DecoderDepth * perBlock + crossTokenToImage + upscaling + hyper + maskProduct + iouHead);

        return new FlopCount(patchEmbed, qkv, lora, attention, relPos, mlp, neck, promptEncoder, decoder);
    }

    private static double IouHead(SamConfig config, double c, double masks)
    {
        double h = config.IouHeadHiddenDim;
        double sum = 0;
        for (int layer = 0; layer < config.IouHeadDepth; layer++)
        {
            double inputs = layer == 0 ? c : h;
            double outputs = layer == config.IouHeadDepth - 1 ? masks : h;
            sum += 2 * inputs * outputs;
        }
        return sum;
    }
}
