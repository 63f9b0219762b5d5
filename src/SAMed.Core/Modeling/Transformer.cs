using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Modeling;

/// <summary>
/// SAM's two-way transformer: tokens attend to the image embedding and the image embedding attends back to the
/// tokens, followed by a final token-to-image attention.
/// </summary>
public sealed class TwoWayTransformer : nn.Module
{
    private readonly ModuleList<TwoWayAttentionBlock> layers;
    private readonly DecoderAttention final_attn_token_to_image;
    private readonly LayerNorm norm_final_attn;

    public TwoWayTransformer(int depth, int embeddingDim, int numHeads, int mlpDim, int attentionDownsampleRate = 2, Device? device = null)
        : base(nameof(TwoWayTransformer))
    {
        layers = new ModuleList<TwoWayAttentionBlock>();
        for (int i = 0; i < depth; i++)
            layers.Add(new TwoWayAttentionBlock(embeddingDim, numHeads, mlpDim, attentionDownsampleRate, skipFirstLayerPe: i == 0, device));
        final_attn_token_to_image = new DecoderAttention(embeddingDim, numHeads, attentionDownsampleRate, device);
        norm_final_attn = nn.LayerNorm(embeddingDim, device: device);
        RegisterComponents();
    }

    /// <summary>
    /// image_embedding and image_pe are [B, C, H, W]; point_embedding is [B, N, C]. Returns the processed
    /// tokens [B, N, C] and image keys [B, H*W, C].
    /// </summary>
    public (Tensor Queries, Tensor Keys) forward(Tensor imageEmbedding, Tensor imagePe, Tensor pointEmbedding)
    {
        using var scope = torch.NewDisposeScope();
        var keys = imageEmbedding.flatten(2).permute(0, 2, 1);
        var keyPe = imagePe.flatten(2).permute(0, 2, 1);
        var queries = pointEmbedding;
        foreach (var layer in layers)
            (queries, keys) = layer.forward(queries, keys, pointEmbedding, keyPe);

        var q = queries + pointEmbedding;
        var k = keys + keyPe;
        var attnOut = final_attn_token_to_image.forward(q, k, keys);
        queries = norm_final_attn.forward(queries + attnOut);
        return (queries.MoveToOuterDisposeScope(), keys.MoveToOuterDisposeScope());
    }
}

/// <summary>
/// Self-attention of the tokens, cross-attention tokens to image, an MLP on the tokens, and cross-attention
/// image to tokens.
/// </summary>
public sealed class TwoWayAttentionBlock : nn.Module
{
    private readonly DecoderAttention self_attn;
    private readonly LayerNorm norm1;
    private readonly DecoderAttention cross_attn_token_to_image;
    private readonly LayerNorm norm2;
    private readonly MLPBlock mlp;
    private readonly LayerNorm norm3;
    private readonly LayerNorm norm4;
    private readonly DecoderAttention cross_attn_image_to_token;
    private readonly bool skip_first_layer_pe;

    public TwoWayAttentionBlock(int embeddingDim, int numHeads, int mlpDim, int attentionDownsampleRate, bool skipFirstLayerPe, Device? device = null)
        : base(nameof(TwoWayAttentionBlock))
    {
        self_attn = new DecoderAttention(embeddingDim, numHeads, device: device);
        norm1 = nn.LayerNorm(embeddingDim, device: device);
        cross_attn_token_to_image = new DecoderAttention(embeddingDim, numHeads, attentionDownsampleRate, device);
        norm2 = nn.LayerNorm(embeddingDim, device: device);
        mlp = new MLPBlock(embeddingDim, mlpDim, () => nn.ReLU(), device);
        norm3 = nn.LayerNorm(embeddingDim, device: device);
        norm4 = nn.LayerNorm(embeddingDim, device: device);
        cross_attn_image_to_token = new DecoderAttention(embeddingDim, numHeads, attentionDownsampleRate, device);
        skip_first_layer_pe = skipFirstLayerPe;
        RegisterComponents();
    }

    public (Tensor Queries, Tensor Keys) forward(Tensor queries, Tensor keys, Tensor queryPe, Tensor keyPe)
    {
        using var scope = torch.NewDisposeScope();
        if (skip_first_layer_pe)
        {
            queries = self_attn.forward(queries, queries, queries);
        }
        else
        {
            var qSelf = queries + queryPe;
            queries = queries + self_attn.forward(qSelf, qSelf, queries);
        }
        queries = norm1.forward(queries);

        var q = queries + queryPe;
        var k = keys + keyPe;
        queries = norm2.forward(queries + cross_attn_token_to_image.forward(q, k, keys));

        queries = norm3.forward(queries + mlp.forward(queries));

        q = queries + queryPe;
        k = keys + keyPe;
        keys = norm4.forward(keys + cross_attn_image_to_token.forward(k, q, queries));
        return (queries.MoveToOuterDisposeScope(), keys.MoveToOuterDisposeScope());
    }
}

/// <summary>Attention with optional downscaling of the embedding size after projecting to q, k and v.</summary>
public sealed class DecoderAttention : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear out_proj;
    private readonly int num_heads;

    public DecoderAttention(int embeddingDim, int numHeads, int downsampleRate = 1, Device? device = null) : base(nameof(DecoderAttention))
    {
        int internalDim = embeddingDim / downsampleRate;
        if (internalDim % numHeads != 0)
            throw new ArgumentException($"num_heads {numHeads} must divide the attention dim {internalDim}");
        num_heads = numHeads;
        q_proj = nn.Linear(embeddingDim, internalDim, device: device);
        k_proj = nn.Linear(embeddingDim, internalDim, device: device);
        v_proj = nn.Linear(embeddingDim, internalDim, device: device);
        out_proj = nn.Linear(internalDim, embeddingDim, device: device);
        RegisterComponents();
    }

    private static Tensor SeparateHeads(Tensor x, int numHeads)
    {
        long b = x.shape[0], n = x.shape[1], c = x.shape[2];
        return x.reshape(b, n, numHeads, c / numHeads).transpose(1, 2);
    }

    private static Tensor RecombineHeads(Tensor x)
    {
        long b = x.shape[0], heads = x.shape[1], tokens = x.shape[2], perHead = x.shape[3];
        return x.transpose(1, 2).reshape(b, tokens, heads * perHead);
    }

    public override Tensor forward(Tensor q, Tensor k, Tensor v)
    {
        using var scope = torch.NewDisposeScope();
        var qh = SeparateHeads(q_proj.forward(q), num_heads);
        var kh = SeparateHeads(k_proj.forward(k), num_heads);
        var vh = SeparateHeads(v_proj.forward(v), num_heads);

        long perHead = qh.shape[3];
        var attn = qh.matmul(kh.permute(0, 1, 3, 2));
        using (var sqrtPerHead = Math.Sqrt(perHead).ToScalar())
            attn = attn.div(sqrtPerHead);
        attn = torch.softmax(attn, -1);
        var output = RecombineHeads(attn.matmul(vh));
        return out_proj.forward(output).MoveToOuterDisposeScope();
    }
}
