using SAMed.Adaptation;
using SAMed.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Lora;

/// <summary>
/// SAMed's LoRA_Sam: rank-r updates on the q and v slices of every encoder block's fused qkv output
/// (qkv[..., :dim] += B_q(A_q(x)); qkv[..., -dim:] += B_v(A_v(x))), no scaling, A kaiming-uniform(a=sqrt(5)),
/// B zero. The image encoder is frozen; the LoRA matrices, prompt encoder and mask decoder are trained.
/// Owner of SAMed's LoRA checkpoint format (save_lora_parameters / load_lora_parameters): w_a_NNN, w_b_NNN
/// (2k = block k's q, 2k+1 its v), then every prompt_encoder.* and mask_decoder.* tensor.
/// </summary>
public sealed class LoraSam : AdaptedSam
{
    /// <summary>The first LoRA A matrix's key; its shape is [rank, dim].</summary>
    public const string FirstAKey = "w_a_000";

    private readonly ModuleList<Linear> w_As;
    private readonly ModuleList<Linear> w_Bs;

    public LoraSam(Sam sam, int rank) : base(nameof(LoraSam), sam)
    {
        if (rank <= 0)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, "LoRA rank must be positive");
        Rank = rank;
        w_As = new ModuleList<Linear>();
        w_Bs = new ModuleList<Linear>();

        if (sam.ImageEncoder.Blocks.Any(b => b.Attn.QkvAdapter is not null))
            throw new InvalidOperationException("this Sam already has LoRA adapters; wrap a fresh Sam");

        FreezeImageEncoder(sam);
        var device = sam.ImageEncoder.Blocks[0].Attn.Qkv.weight!.device;
        foreach (var block in sam.ImageEncoder.Blocks)
        {
            var attention = block.Attn;
            int dim = attention.Dim;
            var aQ = nn.Linear(dim, rank, hasBias: false, device: device);
            var bQ = nn.Linear(rank, dim, hasBias: false, device: device);
            var aV = nn.Linear(dim, rank, hasBias: false, device: device);
            var bV = nn.Linear(rank, dim, hasBias: false, device: device);
            w_As.Add(aQ);
            w_Bs.Add(bQ);
            w_As.Add(aV);
            w_Bs.Add(bV);
            attention.QkvAdapter = new LoraQkv(attention, aQ, bQ, aV, bV);
        }
        ResetParameters();
        register_module(nameof(w_As), w_As);
        register_module(nameof(w_Bs), w_Bs);
    }

    public override string Strategy => Strategies.Lora;

    public override string Parameters => $"rank {Rank}";

    public int Rank { get; }

    /// <summary>Number of LoRA matrices of each kind (A and B): two per encoder block.</summary>
    public int LoraCount => w_As.Count;

    public static bool IsAKey(string key) => key.StartsWith("w_a_", StringComparison.Ordinal);

    public static bool IsBKey(string key) => key.StartsWith("w_b_", StringComparison.Ordinal);

    public void ResetParameters()
    {
        using var noGrad = torch.no_grad();
        foreach (var a in w_As)
            nn.init.kaiming_uniform_(a.weight!, a: Math.Sqrt(5));
        foreach (var b in w_Bs)
            nn.init.zeros_(b.weight!);
    }

    /// <summary>Block k's LoRA matrices for q and v: (A_q, B_q, A_v, B_v).</summary>
    public (Tensor Aq, Tensor Bq, Tensor Av, Tensor Bv) BlockMatrices(int block) =>
        (w_As[2 * block].weight!, w_Bs[2 * block].weight!, w_As[2 * block + 1].weight!, w_Bs[2 * block + 1].weight!);

    public override IEnumerable<(string name, Parameter p)> TrainableParameters()
    {
        for (int i = 0; i < w_As.Count; i++)
            yield return (LoraKey("w_a", i), w_As[i].weight!);
        for (int i = 0; i < w_Bs.Count; i++)
            yield return (LoraKey("w_b", i), w_Bs[i].weight!);
        foreach (var entry in PromptEncoderAndDecoderParameters())
            yield return entry;
    }

    /// <summary>The tensors SAMed's save_lora_parameters writes, in its order (the live tensors).</summary>
    public override IEnumerable<KeyValuePair<string, Tensor>> CheckpointTensors()
    {
        for (int i = 0; i < w_As.Count; i++)
            yield return new(LoraKey("w_a", i), w_As[i].weight!);
        for (int i = 0; i < w_Bs.Count; i++)
            yield return new(LoraKey("w_b", i), w_Bs[i].weight!);
        foreach (var entry in PromptEncoderAndDecoderState())
            yield return entry;
    }

    private static string LoraKey(string kind, int index) => $"{kind}_{index:D3}";

    /// <summary>qkv(x) with B_q(A_q(x)) added to q and B_v(A_v(x)) to v, computed by the attention's kernel (<see cref="IAttentionKernel.ProjectWithLora"/>).</summary>
    private sealed class LoraQkv(EncoderAttention attention, Linear aQ, Linear bQ, Linear aV, Linear bV) : IQkvAdapter
    {
        public Tensor Project(Tensor input, Tensor weight, Tensor? bias) =>
            attention.Kernel.ProjectWithLora(input, weight, bias, aQ.weight!, bQ.weight!, aV.weight!, bV.weight!);
    }
}
