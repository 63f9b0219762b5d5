using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Modeling;

/// <summary>
/// Medical SAM Adapter's bottleneck Adapter (Med-SA models/ImageEncoder/vit/adapter_block.py, class Adapter):
/// D_fc1 Linear(D, int(D * mlp_ratio)) -> GELU -> D_fc2 Linear(hidden, D); with skip_connect the input is added back
/// (Space_Adapter), without it the bottleneck's output is returned alone (MLP_Adapter). Acts token by token on [..., D].
/// </summary>
public sealed class Adapter : nn.Module<Tensor, Tensor>
{
    private readonly Linear D_fc1;
    private readonly GELU act;
    private readonly Linear D_fc2;
    private readonly bool skip_connect;

    public Adapter(int dFeatures, double mlpRatio = 0.25, bool skipConnect = true, Device? device = null) : base(nameof(Adapter))
    {
        int hidden = (int)(dFeatures * mlpRatio);
        if (hidden < 1)
            throw new ArgumentOutOfRangeException(nameof(mlpRatio), mlpRatio, $"an adapter of width {dFeatures} with ratio {mlpRatio} has no hidden features");
        act = nn.GELU();
        D_fc1 = nn.Linear(dFeatures, hidden, device: device);
        D_fc2 = nn.Linear(hidden, dFeatures, device: device);
        skip_connect = skipConnect;
        RegisterComponents();
    }

    public bool SkipConnect => skip_connect;

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var xs = D_fc2.forward(act.forward(D_fc1.forward(x)));
        var result = skip_connect ? x + xs : xs;
        return result.MoveToOuterDisposeScope();
    }
}
