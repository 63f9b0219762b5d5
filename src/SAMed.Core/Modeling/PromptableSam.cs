using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Modeling;

/// <summary>
/// SAM's promptable forward (segment-anything's Sam.forward), on a <see cref="Sam"/> built as the official SAM:
/// NumClasses = num_multimask_outputs = 3, so four mask tokens and the IoU head. Images are normalised by the
/// model's pixel mean/std and padded bottom-right to the image size; prompts are in that resized frame. The
/// decoder's outputs are sliced as mask_decoder.py does: multimask returns masks 1..3, single mask 0. Holds no
/// parameters of its own: LoRA or adapters injected into the wrapped Sam take part.
/// </summary>
public sealed class PromptableSam(Sam sam)
{
    /// <summary>segment-anything's mask_threshold: a pixel is in the mask when its logit is above it.</summary>
    public const double MaskThreshold = 0.0;

    public Sam Sam { get; } = sam;

    /// <summary>
    /// The official architecture of a model type (vit_b/l/h; tiny: <see cref="SamConfig.Tiny"/>) at an image size,
    /// with 3 multimask outputs. Pixels arrive as 0-255; <paramref name="unitInputs"/> (MedSAM, and always tiny)
    /// divides them by 255 (mean 0, std 255) instead of SAM's pixel mean/std.
    /// </summary>
    public static SamConfig Config(string modelType, int? imageSize, bool unitInputs)
    {
        var config = modelType == "tiny"
            ? SamConfig.Tiny(imageSize ?? 64, numClasses: 3)
            : SamBuilder.Config(modelType, imageSize ?? 1024, numClasses: 3);
        return unitInputs || modelType == "tiny"
            ? config with { PixelMean = [0f, 0f, 0f], PixelStd = [255f, 255f, 255f] }
            : config with { PixelMean = SamConfig.SamPixelMean, PixelStd = SamConfig.SamPixelStd };
    }

    public int ImageSize => Sam.ImageEncoder.ImgSize;

    /// <summary>The low-res logit size, 4 x the image-embedding size.</summary>
    public int LowResSize => 4 * Sam.Config.ImageEmbeddingSize;

    /// <summary>
    /// Sam.forward's image half: images [B, 3, H, W] (H, W &lt;= image size, pixel values as the checkpoint expects,
    /// 0-255 for SAM and MedSAM) to image embeddings [B, C, h, w].
    /// </summary>
    public Tensor EmbedImages(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != Sam.Config.InChans)
            throw new ArgumentException($"images must be [B, {Sam.Config.InChans}, H, W], got [{string.Join(", ", images.shape)}]", nameof(images));
        if (images.shape[2] > ImageSize || images.shape[3] > ImageSize)
            throw new ArgumentException($"images of {images.shape[2]}x{images.shape[3]} exceed the model's input size {ImageSize}", nameof(images));
        using var input = Sam.Preprocess(images);
        return Sam.ImageEncoder.forward(input);
    }

    /// <summary>The prompt encoder's sparse [B, N, C] and dense [B, C, h, w] embeddings of one image's prompts.</summary>
    public (Tensor Sparse, Tensor Dense) EmbedPrompts(SamPrompts prompts) =>
        Sam.PromptEncoder.forward(prompts.Points, prompts.Boxes, prompts.MaskInputs);

    /// <summary>
    /// The mask decoder for one image: its embedding [1, C, h, w] (repeated per prompt set by the decoder) and its
    /// prompts to low-res logits and IoU predictions, sliced as mask_decoder.py's forward: masks 1.. when
    /// <paramref name="multimaskOutput"/>, else mask 0.
    /// </summary>
    /// <remarks>
    /// For batched training the embedding may instead be given per prompt set, [B, C, h, w] (MedSAM's decoder
    /// change: then it is not repeated).
    /// </remarks>
    public PromptedMasks Decode(Tensor imageEmbedding, SamPrompts prompts, bool multimaskOutput)
    {
        if (imageEmbedding.dim() != 4 || (imageEmbedding.shape[0] != 1 && imageEmbedding.shape[0] != prompts.Count))
            throw new ArgumentException(
                $"image embeddings must be [1, C, h, w] or one per prompt set [{prompts.Count}, C, h, w], got [{string.Join(", ", imageEmbedding.shape)}]", nameof(imageEmbedding));
        using var scope = torch.NewDisposeScope();
        var (sparse, dense) = EmbedPrompts(prompts);
        var densePe = Sam.PromptEncoder.GetDensePe();
        var (masks, iou) = Sam.MaskDecoder.forward(imageEmbedding, densePe, sparse, dense, multimaskOutput);
        var selected = SelectOutputs(masks, iou, multimaskOutput);
        return new PromptedMasks(selected.Masks.MoveToOuterDisposeScope(), selected.Iou.MoveToOuterDisposeScope());
    }

    /// <summary>mask_decoder.py: mask_slice = slice(1, None) if multimask_output else slice(0, 1), on masks and IoU.</summary>
    public static (Tensor Masks, Tensor Iou) SelectOutputs(Tensor masks, Tensor iou, bool multimaskOutput) =>
        multimaskOutput
            ? (masks[.., 1.., .., ..], iou[.., 1..])
            : (masks[.., 0..1, .., ..], iou[.., 0..1]);

    /// <summary>
    /// sam.py's postprocess_masks: logits [B, M, 4h, 4w] upsampled to the image size, cropped to the input size
    /// (the image before padding) and resized to the original size, bilinearly without aligned corners.
    /// </summary>
    public Tensor Postprocess(Tensor lowResLogits, (int H, int W) inputSize, (int H, int W) originalSize) =>
        Sam.PostprocessMasks(lowResLogits, inputSize, originalSize);

    /// <summary>masks = logits &gt; mask_threshold.</summary>
    public static Tensor Threshold(Tensor logits) => logits.gt(MaskThreshold);
}
