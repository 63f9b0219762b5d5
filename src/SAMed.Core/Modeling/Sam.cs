using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SAMed.Modeling;

/// <summary>
/// SAMed's forward outputs: masks [B, num_classes+1, S, S] (low_res_logits upsampled to the image size),
/// iou_predictions [B, num_classes+1] and low_res_logits [B, num_classes+1, S/4, S/4].
/// </summary>
public sealed record SamOutput(Tensor masks, Tensor iou_predictions, Tensor low_res_logits) : IDisposable
{
    public void Dispose()
    {
        masks.Dispose();
        iou_predictions.Dispose();
        low_res_logits.Dispose();
    }
}

/// <summary>Every intermediate of one forward pass, for parity checks and inspection.</summary>
public sealed record SamForwardTrace(
    Tensor image_embeddings, Tensor dense_pe, Tensor sparse_embeddings, Tensor dense_embeddings, SamOutput Output) : IDisposable
{
    public void Dispose()
    {
        image_embeddings.Dispose();
        dense_pe.Dispose();
        sparse_embeddings.Dispose();
        dense_embeddings.Dispose();
        Output.Dispose();
    }
}

/// <summary>
/// SAM as SAMed trains it: pixel normalisation and padding, the image encoder, the prompt encoder without prompts,
/// and the mask decoder returning all num_classes + 1 masks. Pixel mean and std are not part of the state dict.
/// </summary>
public sealed class Sam : nn.Module
{
    private readonly ImageEncoderViT image_encoder;
    private readonly PromptEncoder prompt_encoder;
    private readonly MaskDecoder mask_decoder;
    private readonly float[] pixelMean;
    private readonly float[] pixelStd;

    /// <param name="device">Where to create the parameters; "meta" builds the structure without storage.</param>
    public Sam(SamConfig config, Device? device = null) : base(nameof(Sam))
    {
        config.Validate();
        Config = config;
        int embedding = config.ImageEmbeddingSize;
        image_encoder = new ImageEncoderViT(config, device);
        prompt_encoder = new PromptEncoder(config.PromptEmbedDim, (embedding, embedding), (config.ImageSize, config.ImageSize), config.MaskInChans, device);
        mask_decoder = new MaskDecoder(
            config.PromptEmbedDim,
            new TwoWayTransformer(config.DecoderDepth, config.PromptEmbedDim, config.DecoderHeads, config.DecoderMlpDim, device: device),
            config.NumClasses,
            config.IouHeadDepth,
            config.IouHeadHiddenDim,
            device);
        pixelMean = [.. config.PixelMean];
        pixelStd = [.. config.PixelStd];
        RegisterComponents();
    }

    public SamConfig Config { get; }

    public ImageEncoderViT ImageEncoder => image_encoder;

    public PromptEncoder PromptEncoder => prompt_encoder;

    public MaskDecoder MaskDecoder => mask_decoder;

    /// <summary>SAMed's forward_train: images [B, 3, H, W] float (H, W &lt;= image size) to masks, IoU and low-res logits.</summary>
    public SamOutput Forward(Tensor images, bool multimaskOutput, int imageSize)
    {
        var trace = ForwardTrace(images, multimaskOutput, imageSize);
        trace.image_embeddings.Dispose();
        trace.dense_pe.Dispose();
        trace.sparse_embeddings.Dispose();
        trace.dense_embeddings.Dispose();
        return trace.Output;
    }

    /// <summary>The forward pass keeping the image embeddings, dense positional encoding and prompt embeddings.</summary>
    public SamForwardTrace ForwardTrace(Tensor images, bool multimaskOutput, int imageSize)
    {
        using var scope = torch.NewDisposeScope();
        var (imageEmbeddings, densePe, sparse, dense, lowRes, iou) = Decode(images, multimaskOutput);
        var masks = PostprocessMasks(lowRes, (imageSize, imageSize), (imageSize, imageSize));

        return new SamForwardTrace(
            imageEmbeddings.MoveToOuterDisposeScope(),
            densePe.MoveToOuterDisposeScope(),
            sparse.MoveToOuterDisposeScope(),
            dense.MoveToOuterDisposeScope(),
            new SamOutput(masks.MoveToOuterDisposeScope(), iou.MoveToOuterDisposeScope(), lowRes.MoveToOuterDisposeScope()));
    }

    /// <summary>
    /// The training forward: low-res logits [B, masks, S / 4, S / 4] and IoU predictions, without the upsampled masks
    /// (SAMed's forward_train computes them, its loss never reads them).
    /// </summary>
    public (Tensor LowResLogits, Tensor IouPredictions) ForwardLowRes(Tensor images, bool multimaskOutput)
    {
        using var scope = torch.NewDisposeScope();
        var (_, _, _, _, lowRes, iou) = Decode(images, multimaskOutput);
        return (lowRes.MoveToOuterDisposeScope(), iou.MoveToOuterDisposeScope());
    }

    private (Tensor ImageEmbeddings, Tensor DensePe, Tensor Sparse, Tensor Dense, Tensor LowRes, Tensor Iou) Decode(Tensor images, bool multimaskOutput)
    {
        if (images.dim() != 4 || images.shape[1] != Config.InChans)
            throw new ArgumentException($"images must be [B, {Config.InChans}, H, W], got [{string.Join(", ", images.shape)}]", nameof(images));
        if (images.shape[2] > image_encoder.ImgSize || images.shape[3] > image_encoder.ImgSize)
            throw new ArgumentException($"images of {images.shape[2]}x{images.shape[3]} exceed the model's input size {image_encoder.ImgSize}", nameof(images));

        Tensor imageEmbeddings;
        using (var input = Preprocess(images))
            imageEmbeddings = image_encoder.forward(input);
        var (sparse, dense) = prompt_encoder.forward(null, null, null);
        var densePe = prompt_encoder.GetDensePe();
        var (lowRes, iou) = mask_decoder.forward(imageEmbeddings, densePe, sparse, dense, multimaskOutput);
        return (imageEmbeddings, densePe, sparse, dense, lowRes, iou);
    }

    /// <summary>Normalises pixel values and pads at the bottom and right to a square of the encoder's input size.</summary>
    public Tensor Preprocess(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var mean = torch.tensor(pixelMean, device: x.device).view(-1, 1, 1);
        var std = torch.tensor(pixelStd, device: x.device).view(-1, 1, 1);
        var normalized = (x - mean) / std;
        long padH = image_encoder.ImgSize - normalized.shape[^2];
        long padW = image_encoder.ImgSize - normalized.shape[^1];
        return F.pad(normalized, [0, padW, 0, padH]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// SAM's postprocess_masks: upsample to the encoder's input size, crop the padding away and resize to the
    /// original size, bilinearly without aligned corners.
    /// </summary>
    public Tensor PostprocessMasks(Tensor masks, (int H, int W) inputSize, (int H, int W) originalSize)
    {
        using var scope = torch.NewDisposeScope();
        int size = image_encoder.ImgSize;
        var upsampled = F.interpolate(masks, size: [size, size], mode: InterpolationMode.Bilinear, align_corners: false);
        if (inputSize != (size, size))
            upsampled = upsampled[.., .., ..inputSize.H, ..inputSize.W];
        // A bilinear resize to the same size reproduces every value: skipped (contiguous() copies only a crop).
        if (originalSize == inputSize)
            return upsampled.contiguous().MoveToOuterDisposeScope();
        var resized = F.interpolate(upsampled, size: [originalSize.H, originalSize.W], mode: InterpolationMode.Bilinear, align_corners: false);
        return resized.MoveToOuterDisposeScope();
    }
}
