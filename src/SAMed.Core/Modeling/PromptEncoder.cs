using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Modeling;

/// <summary>Point prompts: coordinates [B, N, 2] in input-image pixels (x, y) and labels [B, N] (1 fg, 0 bg, -1 pad).</summary>
public sealed record PointPrompts(Tensor Coords, Tensor Labels);

/// <summary>
/// SAM's prompt encoder: random-Fourier positional encoding of points and box corners plus learned point
/// embeddings (sparse), and a mask downscaling network or the learned no_mask_embed (dense).
/// </summary>
public sealed class PromptEncoder : nn.Module
{
    private readonly PositionEmbeddingRandom pe_layer;
    private readonly ModuleList<Embedding> point_embeddings;
    private readonly Embedding not_a_point_embed;
    private readonly Sequential mask_downscaling;
    private readonly Embedding no_mask_embed;

    public PromptEncoder(int embedDim, (int H, int W) imageEmbeddingSize, (int H, int W) inputImageSize, int maskInChans, Device? device = null)
        : base(nameof(PromptEncoder))
    {
        EmbedDim = embedDim;
        ImageEmbeddingSize = imageEmbeddingSize;
        InputImageSize = inputImageSize;
        pe_layer = new PositionEmbeddingRandom(embedDim / 2, device: device);
        point_embeddings = new ModuleList<Embedding>();
        for (int i = 0; i < 4; i++)
            point_embeddings.Add(nn.Embedding(1, embedDim, device: device));
        not_a_point_embed = nn.Embedding(1, embedDim, device: device);
        mask_downscaling = nn.Sequential(
            nn.Conv2d(1, maskInChans / 4, kernel_size: 2, stride: 2, device: device),
            new LayerNorm2d(maskInChans / 4, device: device),
            nn.GELU(),
            nn.Conv2d(maskInChans / 4, maskInChans, kernel_size: 2, stride: 2, device: device),
            new LayerNorm2d(maskInChans, device: device),
            nn.GELU(),
            nn.Conv2d(maskInChans, embedDim, kernel_size: 1, device: device));
        no_mask_embed = nn.Embedding(1, embedDim, device: device);
        RegisterComponents();
    }

    public int EmbedDim { get; }

    public (int H, int W) ImageEmbeddingSize { get; }

    public (int H, int W) InputImageSize { get; }

    /// <summary>The positional encoding of the image-embedding grid, [1, C, H, W].</summary>
    public Tensor GetDensePe()
    {
        using var pe = pe_layer.forward(ImageEmbeddingSize);
        return pe.unsqueeze(0);
    }

    /// <summary>Sparse [B, N, C] and dense [B, C, H, W] embeddings; with no prompts at all B is 1.</summary>
    public (Tensor Sparse, Tensor Dense) forward(PointPrompts? points, Tensor? boxes, Tensor? masks)
    {
        using var scope = torch.NewDisposeScope();
        long bs = points is not null ? points.Coords.shape[0]
            : boxes is not null ? boxes.shape[0]
            : masks is not null ? masks.shape[0]
            : 1;
        var device = no_mask_embed.weight!.device;
        var sparse = torch.empty([bs, 0, EmbedDim], device: device);
        if (points is not null)
            sparse = torch.cat([sparse, EmbedPoints(points.Coords, points.Labels, pad: boxes is null)], 1);
        if (boxes is not null)
            sparse = torch.cat([sparse, EmbedBoxes(boxes)], 1);

        var dense = masks is not null
            ? mask_downscaling.forward(masks)
            : no_mask_embed.weight!.reshape(1, -1, 1, 1).expand(bs, -1, ImageEmbeddingSize.H, ImageEmbeddingSize.W);
        return (sparse.MoveToOuterDisposeScope(), dense.MoveToOuterDisposeScope());
    }

    private Tensor EmbedPoints(Tensor points, Tensor labels, bool pad)
    {
        points = points + 0.5;
        if (pad)
        {
            var paddingPoint = torch.zeros([points.shape[0], 1, 2], device: points.device);
            var paddingLabel = -torch.ones([labels.shape[0], 1], dtype: labels.dtype, device: labels.device);
            points = torch.cat([points, paddingPoint], 1);
            labels = torch.cat([labels, paddingLabel], 1);
        }
        var embedding = pe_layer.ForwardWithCoords(points, InputImageSize);
        var notAPoint = (labels == -1).unsqueeze(-1);
        embedding = torch.where(notAPoint, torch.zeros_like(embedding), embedding);
        embedding = embedding + notAPoint.to_type(embedding.dtype) * not_a_point_embed.weight!;
        embedding = embedding + (labels == 0).unsqueeze(-1).to_type(embedding.dtype) * point_embeddings[0].weight!;
        embedding = embedding + (labels == 1).unsqueeze(-1).to_type(embedding.dtype) * point_embeddings[1].weight!;
        return embedding;
    }

    private Tensor EmbedBoxes(Tensor boxes)
    {
        var coords = (boxes + 0.5).reshape(-1, 2, 2);
        var corners = pe_layer.ForwardWithCoords(coords, InputImageSize);
        var first = corners[.., 0, ..] + point_embeddings[2].weight!;
        var second = corners[.., 1, ..] + point_embeddings[3].weight!;
        return torch.stack([first, second], 1);
    }
}

/// <summary>Positional encoding with random spatial frequencies (a fixed Gaussian matrix buffer).</summary>
public sealed class PositionEmbeddingRandom : nn.Module
{
    private readonly Tensor positional_encoding_gaussian_matrix;

    public PositionEmbeddingRandom(int numPosFeats, double scale = 1.0, Device? device = null) : base(nameof(PositionEmbeddingRandom))
    {
        if (scale <= 0.0)
            scale = 1.0;
        positional_encoding_gaussian_matrix = scale * torch.randn([2, numPosFeats], device: device);
        RegisterComponents();
    }

    /// <summary>Encodes points normalised to [0, 1]^2: [..., 2] -> [..., 2 * numPosFeats].</summary>
    private Tensor PeEncoding(Tensor coords)
    {
        using var scope = torch.NewDisposeScope();
        // Explicit scalars: an implicitly converted one is left to the finalizer, which may free it during the call.
        using var two = 2.0.ToScalar();
        using var one = 1.0.ToScalar();
        using var twoPi = (2 * Math.PI).ToScalar();
        var scaled = coords.mul(two).sub(one);
        scaled = scaled.matmul(positional_encoding_gaussian_matrix);
        scaled = scaled.mul(twoPi);
        return torch.cat([torch.sin(scaled), torch.cos(scaled)], -1).MoveToOuterDisposeScope();
    }

    /// <summary>The encoding of an h x w grid of pixel centres, [C, H, W].</summary>
    public Tensor forward((int H, int W) size)
    {
        using var scope = torch.NewDisposeScope();
        var (h, w) = size;
        var grid = torch.ones([h, w], dtype: ScalarType.Float32, device: positional_encoding_gaussian_matrix.device);
        var yEmbed = (grid.cumsum(0) - 0.5) / h;
        var xEmbed = (grid.cumsum(1) - 0.5) / w;
        var pe = PeEncoding(torch.stack([xEmbed, yEmbed], -1));
        return pe.permute(2, 0, 1).MoveToOuterDisposeScope();
    }

    /// <summary>Encodes points given in pixels of an image of <paramref name="imageSize"/>: [B, N, 2] -> [B, N, C].</summary>
    public Tensor ForwardWithCoords(Tensor coordsInput, (int H, int W) imageSize)
    {
        using var scope = torch.NewDisposeScope();
        var x = coordsInput[.., .., 0] / imageSize.W;
        var y = coordsInput[.., .., 1] / imageSize.H;
        var coords = torch.stack([x, y], -1).to_type(ScalarType.Float32);
        return PeEncoding(coords).MoveToOuterDisposeScope();
    }
}
