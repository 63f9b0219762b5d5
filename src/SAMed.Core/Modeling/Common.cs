using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Modeling;

/// <summary>SAM's MLPBlock: lin2(act(lin1(x))).</summary>
public sealed class MLPBlock : nn.Module<Tensor, Tensor>
{
    private readonly Linear lin1;
    private readonly Linear lin2;
    private readonly nn.Module<Tensor, Tensor> act;

    public MLPBlock(long embeddingDim, long mlpDim, Func<nn.Module<Tensor, Tensor>> activation, Device? device = null) : base(nameof(MLPBlock))
    {
        lin1 = nn.Linear(embeddingDim, mlpDim, device: device);
        lin2 = nn.Linear(mlpDim, embeddingDim, device: device);
        act = activation();
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var hidden = lin1.forward(x);
        using var activated = act.forward(hidden);
        return lin2.forward(activated);
    }
}

/// <summary>SAM's LayerNorm2d: layer norm over the channel dimension of [B, C, H, W], written out as SAM does.</summary>
public sealed class LayerNorm2d : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly double eps;

    public LayerNorm2d(long numChannels, double eps = 1e-6, Device? device = null) : base(nameof(LayerNorm2d))
    {
        weight = new Parameter(torch.ones(numChannels, device: device));
        bias = new Parameter(torch.zeros(numChannels, device: device));
        this.eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var u = x.mean([1], keepdim: true);
        var centered = x - u;
        var s = centered.pow(2).mean([1], keepdim: true);
        var normalized = centered / torch.sqrt(s + eps);
        var result = weight.view(-1, 1, 1) * normalized + bias.view(-1, 1, 1);
        return result.MoveToOuterDisposeScope();
    }
}
