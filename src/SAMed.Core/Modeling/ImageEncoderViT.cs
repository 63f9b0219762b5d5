using SAMed.Kernels;
using SAMed.TorchInterop;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SAMed.Modeling;

/// <summary>
/// SAM's image encoder: a ViT with windowed and global attention blocks, decomposed relative position bias,
/// an absolute position embedding and a convolutional neck. Input [B, 3, S, S], output [B, out_chans, S/16, S/16].
/// </summary>
public sealed class ImageEncoderViT : nn.Module<Tensor, Tensor>
{
    private readonly PatchEmbed patch_embed;
    private readonly Parameter pos_embed;
    private readonly ModuleList<EncoderBlock> blocks;
    private readonly Sequential neck;

    public ImageEncoderViT(SamConfig config, Device? device = null) : base(nameof(ImageEncoderViT))
    {
        ImgSize = config.ImageSize;
        int tokens = config.ImageSize / config.PatchSize;
        patch_embed = new PatchEmbed(config.PatchSize, config.InChans, config.EncoderEmbedDim, device);
        pos_embed = new Parameter(torch.zeros([1, tokens, tokens, config.EncoderEmbedDim], device: device));
        blocks = new ModuleList<EncoderBlock>();
        for (int i = 0; i < config.EncoderDepth; i++)
        {
            int window = config.IsGlobalAttention(i) ? 0 : config.WindowSize;
            blocks.Add(new EncoderBlock(
                dim: config.EncoderEmbedDim,
                numHeads: config.EncoderNumHeads,
                mlpRatio: config.MlpRatio,
                qkvBias: config.QkvBias,
                layerNormEps: config.EncoderLayerNormEps,
                useRelPos: config.UseRelPos,
                windowSize: window,
                inputSize: tokens,
                device: device));
        }
        neck = nn.Sequential(
            nn.Conv2d(config.EncoderEmbedDim, config.PromptEmbedDim, kernel_size: 1, bias: false, device: device),
            new LayerNorm2d(config.PromptEmbedDim, device: device),
            nn.Conv2d(config.PromptEmbedDim, config.PromptEmbedDim, kernel_size: 3, padding: 1, bias: false, device: device),
            new LayerNorm2d(config.PromptEmbedDim, device: device));
        RegisterComponents();
    }

    public int ImgSize { get; }

    public IReadOnlyList<EncoderBlock> Blocks => [.. blocks];

    /// <summary>
    /// With autograd on, give the heap's freed pages back to the system (<see cref="NativeHeap.Release"/>) after each
    /// global-attention block: the peak resident memory of a vit_b 512 training step falls by ~0.25 GiB, but the
    /// step takes ~13% longer (page faults when the pages are used again; docs/performance.md), so it is off by
    /// default. Inference (no grad) never trims.
    /// </summary>
    public bool ReleaseHeapInTraining { get; set; }

    /// <summary>
    /// Sets how every block computes its attention (<see cref="EncoderAttention.Kernel"/>): the hand-written kernels by
    /// default, <see cref="PlainAttentionKernel"/> for SAM's formulas through libtorch's autograd.
    /// </summary>
    public void UseAttentionKernel(IAttentionKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        foreach (var block in blocks)
            block.Attn.Kernel = kernel;
    }

    /// <summary>
    /// Encodes [B, 3, S, S]. An encoder converted to another floating type (e.g. bfloat16 for inference) computes in
    /// that type and returns the embeddings in the input's type.
    /// </summary>
    public override Tensor forward(Tensor x)
    {
        var inputType = x.dtype;
        if (pos_embed.dtype != inputType)
        {
            using var converted = x.to_type(pos_embed.dtype);
            using var encoded = Encode(converted);
            return encoded.to_type(inputType);
        }
        return Encode(x);
    }

    private Tensor Encode(Tensor x)
    {
        Tensor tokens;
        using (var embedded = patch_embed.forward(x))
            tokens = embedded + pos_embed;

        // One dispose scope per block keeps the peak memory at one block's temporaries; the autograd graph holds
        // whatever backward needs on its own.
        foreach (var block in blocks)
        {
            using var scope = torch.NewDisposeScope();
            var next = block.forward(tokens);
            tokens.Dispose();
            tokens = scope.MoveToOuter(next);
            if (block.WindowSize == 0 && ReleaseHeapInTraining && torch.is_grad_enabled())
                NativeHeap.Release();
        }

        using (tokens)
        using (var channelsFirst = tokens.permute(0, 3, 1, 2))
            return neck.forward(channelsFirst);
    }
}

/// <summary>A ViT block with window attention (window size &gt; 0, padded to whole windows) or global attention.</summary>
public sealed class EncoderBlock : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm norm1;
    private readonly EncoderAttention attn;
    private readonly LayerNorm norm2;
    private readonly MLPBlock mlp;
    private readonly int window_size;
    private Adapter? MLP_Adapter;
    private Adapter? Space_Adapter;

    public EncoderBlock(int dim, int numHeads, double mlpRatio, bool qkvBias, double layerNormEps, bool useRelPos, int windowSize, int inputSize, Device? device = null)
        : base(nameof(EncoderBlock))
    {
        norm1 = nn.LayerNorm(dim, eps: layerNormEps, device: device);
        attn = new EncoderAttention(dim, numHeads, qkvBias, useRelPos, windowSize == 0 ? inputSize : windowSize, device);
        norm2 = nn.LayerNorm(dim, eps: layerNormEps, device: device);
        mlp = new MLPBlock(dim, (long)(dim * mlpRatio), () => nn.GELU(), device);
        window_size = windowSize;
        RegisterComponents();
    }

    public EncoderAttention Attn => attn;

    public int WindowSize => window_size;

    /// <summary>Medical SAM Adapter's scale of the MLP adapter's output (Med-SA adapter_block.py: self.scale = 0.5).</summary>
    public const double MlpAdapterScale = 0.5;

    /// <summary>The adapter after attention (Med-SA's Space_Adapter), if attached.</summary>
    public Adapter? SpaceAdapter => Space_Adapter;

    /// <summary>The adapter beside the MLP (Med-SA's MLP_Adapter), if attached.</summary>
    public Adapter? MlpAdapter => MLP_Adapter;

    /// <summary>
    /// Adds Medical SAM Adapter's two adapters under its names (MLP_Adapter, Space_Adapter), so the block computes
    /// x = x + Space_Adapter(attn(norm1(x))); x = x + mlp(norm2(x)) + 0.5 * MLP_Adapter(norm2(x)).
    /// </summary>
    public void AttachAdapters(Adapter mlpAdapter, Adapter spaceAdapter)
    {
        if (MLP_Adapter is not null || Space_Adapter is not null)
            throw new InvalidOperationException("this encoder block has adapters already");
        MLP_Adapter = mlpAdapter;
        Space_Adapter = spaceAdapter;
        register_module(nameof(MLP_Adapter), mlpAdapter);
        register_module(nameof(Space_Adapter), spaceAdapter);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var shortcut = x;
        // window_partition, attn and window_unpartition (SAM's Block.forward), as the attention's kernel computes them.
        var h = attn.InWindows(norm1.forward(x), window_size);
        // Med-SA applies Space_Adapter to the attention output before window_unpartition; it acts token by token, so
        // applying it to the real tokens after the partition is undone is the same.
        if (Space_Adapter is not null)
            h = Space_Adapter.forward(h);

        var y = shortcut + h;
        var xn = norm2.forward(y);
        var result = y + mlp.forward(xn);
        if (MLP_Adapter is not null)
            result = result + ScalarMath.Times(MLP_Adapter.forward(xn), MlpAdapterScale);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>SAM's window_partition: pads [B, H, W, C] with zeros to whole windows and splits it into [B * windows, ws, ws, C].</summary>
    public static (Tensor Windows, (long H, long W) Padded) WindowPartition(Tensor x, int windowSize)
    {
        long b = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3];
        long padH = (windowSize - h % windowSize) % windowSize;
        long padW = (windowSize - w % windowSize) % windowSize;
        if (padH > 0 || padW > 0)
            x = F.pad(x, [0, 0, 0, padW, 0, padH]);
        long hp = h + padH, wp = w + padW;
        var windows = x.view(b, hp / windowSize, windowSize, wp / windowSize, windowSize, c)
            .permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, windowSize, windowSize, c);
        return (windows, (hp, wp));
    }

    /// <summary>SAM's window_unpartition: reverses <see cref="WindowPartition"/> and removes the padding.</summary>
    public static Tensor WindowUnpartition(Tensor windows, int windowSize, (long H, long W) padded, (long H, long W) original)
    {
        var (hp, wp) = padded;
        var (h, w) = original;
        long b = windows.shape[0] / (hp * wp / windowSize / windowSize);
        var x = windows.view(b, hp / windowSize, wp / windowSize, windowSize, windowSize, -1)
            .permute(0, 1, 3, 2, 4, 5).contiguous().view(b, hp, wp, -1);
        if (hp > h || wp > w)
            x = x[.., ..(int)h, ..(int)w, ..].contiguous();
        return x;
    }
}

/// <summary>
/// SAM's Attention: multi-head attention with decomposed relative position embeddings (MViTv2), on [B, H, W, C].
/// <see cref="forward"/> is SAM's formula through libtorch's autograd; an encoder block reaches it through
/// <see cref="Kernel"/>, which may compute the same with hand-written kernels.
/// </summary>
public sealed class EncoderAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear qkv;
    private readonly Linear proj;
    private readonly Parameter? rel_pos_h;
    private readonly Parameter? rel_pos_w;
    private readonly int num_heads;

    public EncoderAttention(int dim, int numHeads, bool qkvBias, bool useRelPos, int inputSize, Device? device = null) : base(nameof(EncoderAttention))
    {
        num_heads = numHeads;
        int headDim = dim / numHeads;
        qkv = nn.Linear(dim, dim * 3, hasBias: qkvBias, device: device);
        proj = nn.Linear(dim, dim, device: device);
        if (useRelPos)
        {
            rel_pos_h = new Parameter(torch.zeros([2 * inputSize - 1, headDim], device: device));
            rel_pos_w = new Parameter(torch.zeros([2 * inputSize - 1, headDim], device: device));
        }
        Dim = dim;
        RegisterComponents();
    }

    public int Dim { get; }

    public int NumHeads => num_heads;

    public Linear Qkv => qkv;

    /// <summary>The position table along the height (rel_pos_h), if the block uses relative positions.</summary>
    public Parameter? RelPosH => rel_pos_h;

    /// <summary>The position table along the width (rel_pos_w), if the block uses relative positions.</summary>
    public Parameter? RelPosW => rel_pos_w;

    /// <summary>
    /// LoRA's hook into the fused qkv projection: given the block input, the qkv weight and bias, it returns qkv(x)
    /// with its updates on the q and v slices. Not a registered submodule, so the SAM state dict stays that of an
    /// official checkpoint.
    /// </summary>
    public IQkvAdapter? QkvAdapter { get; set; }

    /// <summary>
    /// How the block computes this attention in its windows, and LoRA's projection: the one place where the
    /// hand-written kernels (<see cref="FastAttentionKernel"/>) are chosen over SAM's plain formulas
    /// (<see cref="PlainAttentionKernel"/>, the specification they are tested against).
    /// </summary>
    public IAttentionKernel Kernel { get; set; } = FastAttentionKernel.Instance;

    /// <summary>SAM's Attention.forward on [B, H, W, dim] (windows or the whole grid): proj(attention(qkv(x))).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return proj.forward(Attend(Project(x))).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// What SAM's Block does with its normalised tokens [B, H, W, dim]: window_partition (window size &gt; 0), this
    /// attention, window_unpartition; computed by <see cref="Kernel"/>.
    /// </summary>
    public Tensor InWindows(Tensor x, int windowSize) => Kernel.Forward(this, x, windowSize);

    /// <summary>
    /// qkv(x) with the adapter's updates, [B, H, W, 3 * dim]. Without the bias, for callers that add it after padding
    /// (a zero-padded token's projection is exactly the bias).
    /// </summary>
    public Tensor Project(Tensor x, bool withBias = true)
    {
        var bias = withBias ? qkv.bias : null;
        if (QkvAdapter is not null)
            return QkvAdapter.Project(x, qkv.weight!, bias);
        return bias is null ? F.linear(x, qkv.weight!) : qkv.forward(x);
    }

    /// <summary>The output projection, [..., dim].</summary>
    public Tensor Proj(Tensor x) => proj.forward(x);

    /// <summary>
    /// SAM's attention of fused projections [B, H, W, 3 * dim] through libtorch's autograd, before the output
    /// projection: [B, H, W, dim]. softmax(q k^T * scale + rel_h + rel_w) v with the rel-pos bias as a float mask of
    /// scaled_dot_product_attention, whose default scale, 1 / sqrt(head_dim), is SAM's.
    /// </summary>
    public Tensor Attend(Tensor fused)
    {
        using var scope = torch.NewDisposeScope();
        long b = fused.shape[0], h = fused.shape[1], w = fused.shape[2];

        // qkv with shape (3, B, nHead, H * W, C), then q, k, v with shape (B, nHead, H * W, C)
        var heads = fused.reshape(b, h * w, 3, num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0);
        var q = heads[0];
        var k = heads[1];
        var v = heads[2];

        Tensor? bias = rel_pos_h is null || rel_pos_w is null
            ? null
            : DecomposedRelPosBias(q.reshape(b * num_heads, h * w, -1), rel_pos_h, rel_pos_w, (h, w), (h, w)).view(b, num_heads, h * w, h * w);
        var attended = F.scaled_dot_product_attention(q, k, v, bias);
        return attended.permute(0, 2, 1, 3).reshape(b, h, w, -1).MoveToOuterDisposeScope();
    }

    /// <summary>SAM's get_rel_pos: relative positional embeddings for every (query, key) offset, interpolated if needed.</summary>
    public static Tensor GetRelPos(long qSize, long kSize, Tensor relPos)
    {
        long maxRelDist = 2 * Math.Max(qSize, kSize) - 1;
        Tensor resized;
        if (relPos.shape[0] != maxRelDist)
        {
            var asSignal = relPos.reshape(1, relPos.shape[0], -1).permute(0, 2, 1);
            resized = F.interpolate(asSignal, size: [maxRelDist], mode: InterpolationMode.Linear, align_corners: false)
                .reshape(-1, maxRelDist).permute(1, 0);
        }
        else
        {
            resized = relPos;
        }

        double qScale = Math.Max((double)kSize / qSize, 1.0);
        double kScale = Math.Max((double)qSize / kSize, 1.0);
        // Explicit scalars: an implicitly converted one is left to the finalizer, which may free it during the call.
        var device = relPos.device;
        using var qCoords = ScalarMath.Times(torch.arange(qSize, device: device)[.., TensorIndex.None], qScale);
        using var kCoords = ScalarMath.Times(torch.arange(kSize, device: device)[TensorIndex.None, ..], kScale);
        using var offsets = qCoords - kCoords;
        using var relativeCoords = ScalarMath.Plus(offsets, (kSize - 1) * kScale);
        using var indexes = relativeCoords.to_type(ScalarType.Int64);
        return resized[indexes];
    }

    /// <summary>SAM's add_decomposed_rel_pos without the scores: rel_h + rel_w as one [B, qH * qW, kH * kW] bias, from the unscaled q [B, qH * qW, C].</summary>
    public static Tensor DecomposedRelPosBias(Tensor q, Tensor relPosH, Tensor relPosW, (long H, long W) qSize, (long H, long W) kSize)
    {
        using var rh = GetRelPos(qSize.H, kSize.H, relPosH);
        using var rw = GetRelPos(qSize.W, kSize.W, relPosW);
        return DecomposedRelPosBiasFromTables(q, rh, rw, qSize, kSize);
    }

    /// <summary>rel_h + rel_w from q [B, qH * qW, C] and the tables of <see cref="GetRelPos"/> ([qH, kH, C], [qW, kW, C]).</summary>
    public static Tensor DecomposedRelPosBiasFromTables(Tensor q, Tensor rh, Tensor rw, (long H, long W) qSize, (long H, long W) kSize)
    {
        using var scope = torch.NewDisposeScope();
        var (qH, qW) = qSize;
        var (kH, kW) = kSize;
        long b = q.shape[0], dim = q.shape[2];
        var rq = q.reshape(b, qH, qW, dim);
        var relH = torch.einsum("bhwc,hkc->bhwk", rq, rh);
        var relW = torch.einsum("bhwc,wkc->bhwk", rq, rw);
        var bias = relH[.., .., .., .., TensorIndex.None] + relW[.., .., .., TensorIndex.None, ..];
        return bias.reshape(b, qH * qW, kH * kW).MoveToOuterDisposeScope();
    }
}

/// <summary>The fused qkv projection of an encoder attention block with low-rank updates.</summary>
public interface IQkvAdapter
{
    /// <summary>x W^T (+ <paramref name="bias"/>, if any) with the updates, [..., 3 * dim].</summary>
    Tensor Project(Tensor input, Tensor weight, Tensor? bias);
}

/// <summary>Image to patch embedding: a strided convolution, output channels last [B, H, W, C].</summary>
public sealed class PatchEmbed : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d proj;

    public PatchEmbed(int patchSize, int inChans, int embedDim, Device? device = null) : base(nameof(PatchEmbed))
    {
        proj = nn.Conv2d(inChans, embedDim, kernel_size: patchSize, stride: patchSize, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var projected = proj.forward(x);
        return projected.permute(0, 2, 3, 1);
    }
}
