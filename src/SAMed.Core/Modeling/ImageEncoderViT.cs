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
        GlobalBlocksKeepingSoftmax = DefaultGlobalBlocksKeepingSoftmax;
        neck = nn.Sequential(
            nn.Conv2d(config.EncoderEmbedDim, config.PromptEmbedDim, kernel_size: 1, bias: false, device: device),
            new LayerNorm2d(config.PromptEmbedDim, device: device),
            nn.Conv2d(config.PromptEmbedDim, config.PromptEmbedDim, kernel_size: 3, padding: 1, bias: false, device: device),
            new LayerNorm2d(config.PromptEmbedDim, device: device));
        RegisterComponents();
    }

    public int ImgSize { get; }

    /// <summary>See <see cref="GlobalBlocksKeepingSoftmax"/>.</summary>
    public const int DefaultGlobalBlocksKeepingSoftmax = 0;

    public IReadOnlyList<EncoderBlock> Blocks => [.. blocks];

    /// <summary>
    /// With autograd on, give the heap's freed pages back to the system (<see cref="NativeHeap.Release"/>) after each
    /// global-attention block: the peak resident memory of a vit_b 512 training step falls by ~0.25 GiB, but the
    /// step takes ~13% longer (page faults when the pages are used again; docs/performance.md), so it is off by
    /// default. Inference (no grad) never trims.
    /// </summary>
    public bool ReleaseHeapInTraining { get; set; }

    /// <summary>
    /// In training, keep the windowed blocks' attention softmax for backward instead of recomputing it
    /// (<see cref="EncoderAttention.KeepsSoftmaxInTraining"/>). Off by default: since only real tokens query, a
    /// window's softmax is small enough to recompute in cache, while keeping it costs an explicit forward instead of
    /// the fused kernel and 77 MiB of saved tensors for vit_b at 512; no faster overall (docs/performance.md).
    /// </summary>
    public bool KeepWindowedSoftmaxInTraining
    {
        get => blocks.Any(b => b.WindowSize > 0 && b.Attn.KeepsSoftmaxInTraining);
        set
        {
            foreach (var block in blocks.Where(b => b.WindowSize > 0))
                block.Attn.KeepsSoftmaxInTraining = value;
        }
    }

    /// <summary>
    /// In training, the number of global-attention blocks, counted from the last, that keep their softmax for
    /// backward instead of recomputing it. Each costs [B, heads, n², n²] floats (48 MiB for vit_b at 512) and trades
    /// the fused forward kernel for an explicit softmax; on this project's CPU that was no faster overall
    /// (docs/performance.md), so the default is 0. Worth measuring on a GPU with memory to spare.
    /// </summary>
    public int GlobalBlocksKeepingSoftmax
    {
        get => blocks.Count(b => b.WindowSize == 0 && b.Attn.KeepsSoftmaxInTraining);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            var global = blocks.Where(b => b.WindowSize == 0).ToList();
            for (int i = 0; i < global.Count; i++)
                global[i].Attn.KeepsSoftmaxInTraining = i >= global.Count - value;
        }
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
        var h = norm1.forward(x);
        if (window_size > 0)
        {
            // SAM pads the normalised tokens with zeros and runs qkv and proj on whole windows. Padded tokens project
            // to the qkv bias, and proj acts token by token, so both run on the real tokens only: the same result
            // without the padded tokens' share of the two largest products (1764 -> 1024 tokens for vit_b at 512).
            h = attn.Proj(attn.AttendInWindows(attn.Project(h, withBias: false), window_size));
        }
        else
        {
            h = attn.forward(h);
        }
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

    /// <summary>Pads [B, H, W, C] to whole windows and splits it into [B * windows, ws, ws, C].</summary>
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

    /// <summary>Reverses <see cref="WindowPartition"/> and removes the padding.</summary>
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

/// <summary>Multi-head attention with decomposed relative position embeddings (MViTv2), on [B, H, W, C].</summary>
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

    /// <summary>
    /// In training, keep the attention softmax for backward instead of recomputing it (see
    /// <see cref="RelPosAttention.Apply"/>). Set by <see cref="ImageEncoderViT.KeepWindowedSoftmaxInTraining"/> and
    /// <see cref="ImageEncoderViT.GlobalBlocksKeepingSoftmax"/>.
    /// </summary>
    public bool KeepsSoftmaxInTraining { get; set; }

    public Linear Qkv => qkv;

    /// <summary>
    /// LoRA's hook into the fused qkv projection: given the block input and qkv(x), it adds its updates to the
    /// q and v slices. Not a registered submodule, so the SAM state dict stays that of an official checkpoint.
    /// </summary>
    public IQkvAdapter? QkvAdapter { get; set; }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return proj.forward(Attend(Project(x))).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// qkv(x) with LoRA's updates, [B, H, W, 3 * dim]. Without the bias, for callers that add it after padding
    /// (a zero-padded token's projection is exactly the bias).
    /// </summary>
    public Tensor Project(Tensor x, bool withBias = true)
    {
        var bias = withBias ? qkv.bias : null;
        if (QkvAdapter is not null)
            return QkvAdapter.Project(x, qkv.weight!, bias);
        return bias is null ? F.linear(x, qkv.weight!) : qkv.forward(x);
    }

    /// <summary>
    /// Window attention of fused projections without the qkv bias ([B, H, W, 3 * dim] from
    /// <c>Project(x, withBias: false)</c>): SAM's zero-padding to whole windows (a padded token's projection is the
    /// bias), attention in each window, and back to [B, H, W, dim] before the output projection.
    /// </summary>
    public Tensor AttendInWindows(Tensor fusedWithoutBias, int windowSize) => Attend(fusedWithoutBias, windowSize, qkv.bias);

    /// <summary>The output projection, [..., dim].</summary>
    public Tensor Proj(Tensor x) => proj.forward(x);

    /// <summary>Multi-head attention of fused projections [B, H, W, 3 * dim] before the output projection: [B, H, W, dim].</summary>
    public Tensor Attend(Tensor fused) => Attend(fused, windowSize: 0, qkvBias: null);

    /// <summary>Attention over the whole grid (window size 0) or in padded windows, <paramref name="qkvBias"/> (if any) added to every token, padded ones included.</summary>
    private Tensor Attend(Tensor fused, int windowSize, Tensor? qkvBias)
    {
        using var scope = torch.NewDisposeScope();
        long height = fused.shape[1], width = fused.shape[2];
        var (gridH, gridW) = windowSize > 0 ? (windowSize, windowSize) : (height, width);
        if (HasFrozenRelPos(out var tableH, out var tableW, gridH, gridW))
        {
            var result = UsesRelPosAttention(fused, rel_pos_h!, rel_pos_w!)
                ? RelPosAttention.Apply(fused, num_heads, tableH, tableW, KeepsSoftmaxInTraining, windowSize, qkvBias)
                : RelPosAttention.Compute(fused, num_heads, tableH, tableW, windowSize, qkvBias);
            return result.MoveToOuterDisposeScope();
        }
        if (windowSize == 0)
            return AttendWithAutograd(qkvBias is null ? fused : fused + qkvBias).MoveToOuterDisposeScope();
        var (windows, padded) = EncoderBlock.WindowPartition(fused, windowSize);
        if (qkvBias is not null)
            windows = windows + qkvBias;
        return EncoderBlock.WindowUnpartition(AttendWithAutograd(windows), windowSize, padded, (height, width)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// SAM's attention through libtorch's autograd, the rel-pos bias as a float mask: for trainable position tables
    /// (not SAMed's recipe) and blocks without them. [B, H, W, 3 * dim] to [B, H, W, dim].
    /// </summary>
    private Tensor AttendWithAutograd(Tensor fused)
    {
        long b = fused.shape[0], h = fused.shape[1], w = fused.shape[2];

        // qkv with shape (3, B, nHead, H * W, C), then q, k, v with shape (B, nHead, H * W, C)
        var heads = fused.reshape(b, h * w, 3, num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0);
        var q = heads[0];
        var k = heads[1];
        var v = heads[2];

        // softmax(q k^T * scale + rel_h + rel_w) v. The default scale of scaled_dot_product_attention, 1 / sqrt(head_dim), is SAM's.
        Tensor? bias = rel_pos_h is null || rel_pos_w is null
            ? null
            : DecomposedRelPosBias(q.reshape(b * num_heads, h * w, -1), rel_pos_h, rel_pos_w, (h, w), (h, w)).view(b, num_heads, h * w, h * w);
        var attended = F.scaled_dot_product_attention(q, k, v, bias);
        return attended.permute(0, 2, 1, 3).reshape(b, h, w, -1);
    }

    /// <summary>The position tables for an h x w grid when there are tables and they get no gradient.</summary>
    private bool HasFrozenRelPos(out Tensor tableH, out Tensor tableW, long h, long w)
    {
        if (rel_pos_h is null || rel_pos_w is null || rel_pos_h.requires_grad || rel_pos_w.requires_grad)
        {
            tableH = tableW = null!;
            return false;
        }
        tableH = GetRelPos(h, h, rel_pos_h);
        tableW = GetRelPos(w, w, rel_pos_w);
        return true;
    }

    /// <summary>
    /// Whether attention goes through <see cref="RelPosAttention"/> with autograd: when autograd will need the
    /// input's gradient and the position tables are frozen (SAMed's training), so that no [heads, L, L] softmax is kept
    /// for backward beyond what <see cref="KeepsSoftmaxInTraining"/> asks for.
    /// </summary>
    public static bool UsesRelPosAttention(Tensor input, Tensor relPosH, Tensor relPosW) =>
        torch.is_grad_enabled() && input.requires_grad && !relPosH.requires_grad && !relPosW.requires_grad;

    /// <summary>Relative positional embeddings for every (query, key) offset, interpolated if needed.</summary>
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

    /// <summary>rel_h + rel_w as one [B, qH * qW, kH * kW] bias, from the unscaled q [B, qH * qW, C].</summary>
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
