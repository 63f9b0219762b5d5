using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Modeling;

/// <summary>
/// SAM's mask decoder in SAMed's semantic mode: num_multimask_outputs = num_classes, so num_classes + 1 mask
/// tokens, and every mask and IoU prediction is returned (SAMed removed SAM's mask_slice selection).
/// </summary>
public sealed class MaskDecoder : nn.Module
{
    private readonly TwoWayTransformer transformer;
    private readonly Embedding iou_token;
    private readonly Embedding mask_tokens;
    private readonly Sequential output_upscaling;
    private readonly ModuleList<MLP> output_hypernetworks_mlps;
    private readonly MLP iou_prediction_head;

    public MaskDecoder(int transformerDim, TwoWayTransformer transformer, int numMultimaskOutputs, int iouHeadDepth, int iouHeadHiddenDim, Device? device = null)
        : base(nameof(MaskDecoder))
    {
        NumMaskTokens = numMultimaskOutputs + 1;
        this.transformer = transformer;
        iou_token = nn.Embedding(1, transformerDim, device: device);
        mask_tokens = nn.Embedding(NumMaskTokens, transformerDim, device: device);
        output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(transformerDim, transformerDim / 4, kernel_size: 2, stride: 2, device: device),
            new LayerNorm2d(transformerDim / 4, device: device),
            nn.GELU(),
            nn.ConvTranspose2d(transformerDim / 4, transformerDim / 8, kernel_size: 2, stride: 2, device: device),
            nn.GELU());
        output_hypernetworks_mlps = new ModuleList<MLP>();
        for (int i = 0; i < NumMaskTokens; i++)
            output_hypernetworks_mlps.Add(new MLP(transformerDim, transformerDim, transformerDim / 8, 3, device: device));
        iou_prediction_head = new MLP(transformerDim, iouHeadHiddenDim, NumMaskTokens, iouHeadDepth, device: device);
        RegisterComponents();
    }

    public int NumMaskTokens { get; }

    /// <summary>
    /// Predicts masks [B, num_mask_tokens, 4h, 4w] and IoU predictions [B, num_mask_tokens] from image embeddings
    /// [B, C, h, w], their positional encoding [1, C, h, w] and the prompt embeddings. <paramref name="multimaskOutput"/>
    /// is accepted for SAM's signature; SAMed returns all masks either way.
    /// </summary>
    public (Tensor Masks, Tensor IouPred) forward(Tensor imageEmbeddings, Tensor imagePe, Tensor sparsePromptEmbeddings, Tensor densePromptEmbeddings, bool multimaskOutput)
    {
        _ = multimaskOutput;
        return PredictMasks(imageEmbeddings, imagePe, sparsePromptEmbeddings, densePromptEmbeddings);
    }

    private (Tensor Masks, Tensor IouPred) PredictMasks(Tensor imageEmbeddings, Tensor imagePe, Tensor sparsePromptEmbeddings, Tensor densePromptEmbeddings)
    {
        using var scope = torch.NewDisposeScope();
        var outputTokens = torch.cat([iou_token.weight!, mask_tokens.weight!], 0);
        outputTokens = outputTokens.unsqueeze(0).expand(sparsePromptEmbeddings.shape[0], -1, -1);
        var tokens = torch.cat([outputTokens, sparsePromptEmbeddings], 1);

        // Expand per-image data in the batch direction to be per-mask. Embeddings already given per prompt set (as
        // many as the tokens; MedSAM's batched training) are used as they are; with one of each both rules agree.
        var src = imageEmbeddings.shape[0] == tokens.shape[0] ? imageEmbeddings : torch.repeat_interleave(imageEmbeddings, tokens.shape[0], 0);
        src = src + densePromptEmbeddings;
        var posSrc = torch.repeat_interleave(imagePe, tokens.shape[0], 0);
        long b = src.shape[0], c = src.shape[1], h = src.shape[2], w = src.shape[3];

        var (hs, keys) = transformer.forward(src, posSrc, tokens);
        var iouTokenOut = hs[.., 0, ..];
        var maskTokensOut = hs[.., 1..(1 + NumMaskTokens), ..];

        // Upscale mask embeddings and predict masks using the mask tokens.
        src = keys.transpose(1, 2).view(b, c, h, w);
        var upscaled = output_upscaling.forward(src);
        var hyperIn = torch.stack(
            Enumerable.Range(0, NumMaskTokens).Select(i => output_hypernetworks_mlps[i].forward(maskTokensOut[.., i, ..])).ToArray(),
            1);

        long ub = upscaled.shape[0], uc = upscaled.shape[1], uh = upscaled.shape[2], uw = upscaled.shape[3];
        var masks = hyperIn.matmul(upscaled.view(ub, uc, uh * uw)).view(ub, -1, uh, uw);

        var iouPred = iou_prediction_head.forward(iouTokenOut);
        return (masks.MoveToOuterDisposeScope(), iouPred.MoveToOuterDisposeScope());
    }
}

/// <summary>A plain MLP: ReLU between linear layers, optional sigmoid at the end (SAM's MaskFormer-style MLP).</summary>
public sealed class MLP : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<Linear> layers;
    private readonly bool sigmoid_output;

    public MLP(int inputDim, int hiddenDim, int outputDim, int numLayers, bool sigmoidOutput = false, Device? device = null) : base(nameof(MLP))
    {
        layers = new ModuleList<Linear>();
        for (int i = 0; i < numLayers; i++)
        {
            int n = i == 0 ? inputDim : hiddenDim;
            int k = i == numLayers - 1 ? outputDim : hiddenDim;
            layers.Add(nn.Linear(n, k, device: device));
        }
        sigmoid_output = sigmoidOutput;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        for (int i = 0; i < layers.Count; i++)
        {
            x = layers[i].forward(x);
            if (i < layers.Count - 1)
                x = torch.nn.functional.relu(x);
        }
        if (sigmoid_output)
            x = torch.sigmoid(x);
        return x.MoveToOuterDisposeScope();
    }
}
