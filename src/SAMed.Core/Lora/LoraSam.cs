using SAMed.Checkpoints;
using SAMed.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Lora;

/// <summary>
/// SAMed's LoRA_Sam: rank-r updates on the q and v slices of every encoder block's fused qkv output
/// (qkv[..., :dim] += B_q(A_q(x)); qkv[..., -dim:] += B_v(A_v(x))), no scaling, A kaiming-uniform(a=sqrt(5)),
/// B zero. The image encoder is frozen; the LoRA matrices, prompt encoder and mask decoder are trained.
/// </summary>
public sealed class LoraSam : nn.Module
{
    private readonly Sam sam;
    private readonly ModuleList<Linear> w_As;
    private readonly ModuleList<Linear> w_Bs;

    public LoraSam(Sam sam, int rank) : base(nameof(LoraSam))
    {
        if (rank <= 0)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, "LoRA rank must be positive");
        Rank = rank;
        this.sam = sam;
        w_As = new ModuleList<Linear>();
        w_Bs = new ModuleList<Linear>();

        if (sam.ImageEncoder.Blocks.Any(b => b.Attn.QkvAdapter is not null))
            throw new InvalidOperationException("this Sam already has LoRA adapters; wrap a fresh Sam");

        foreach (var (_, parameter) in sam.ImageEncoder.named_parameters())
            parameter.requires_grad = false;

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
            attention.QkvAdapter = new LoraQkv(aQ, bQ, aV, bV);
        }
        ResetParameters();
        RegisterComponents();
    }

    public Sam Sam => sam;

    public int Rank { get; }

    /// <summary>Number of LoRA matrices of each kind (A and B): two per encoder block.</summary>
    public int LoraCount => w_As.Count;

    public void ResetParameters()
    {
        using var noGrad = torch.no_grad();
        foreach (var a in w_As)
            nn.init.kaiming_uniform_(a.weight!, a: Math.Sqrt(5));
        foreach (var b in w_Bs)
            nn.init.zeros_(b.weight!);
    }

    public SamOutput Forward(Tensor images, bool multimaskOutput, int imageSize) => sam.Forward(images, multimaskOutput, imageSize);

    public (Tensor LowResLogits, Tensor IouPredictions) ForwardLowRes(Tensor images, bool multimaskOutput) => sam.ForwardLowRes(images, multimaskOutput);

    public SamForwardTrace ForwardTrace(Tensor images, bool multimaskOutput, int imageSize) => sam.ForwardTrace(images, multimaskOutput, imageSize);

    /// <summary>
    /// The trainable tensors under SAMed's checkpoint names: w_a_NNN, w_b_NNN (2k = block k's q, 2k+1 its v),
    /// then every prompt_encoder.* and mask_decoder.* parameter.
    /// </summary>
    public IEnumerable<(string name, Parameter p)> TrainableParameters()
    {
        for (int i = 0; i < w_As.Count; i++)
            yield return (LoraKey("w_a", i), w_As[i].weight!);
        for (int i = 0; i < w_Bs.Count; i++)
            yield return (LoraKey("w_b", i), w_Bs[i].weight!);
        foreach (var (name, parameter) in sam.named_parameters())
        {
            if (IsPromptOrDecoder(name) && parameter.requires_grad)
                yield return (name, parameter);
        }
    }

    public long TrainableParameterCount() => TrainableParameters().Sum(p => p.p.numel());

    /// <summary>The tensors SAMed's save_lora_parameters writes, in its order (detached views of the live tensors).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> LoraStateDict()
    {
        for (int i = 0; i < w_As.Count; i++)
            yield return new(LoraKey("w_a", i), w_As[i].weight!);
        for (int i = 0; i < w_Bs.Count; i++)
            yield return new(LoraKey("w_b", i), w_Bs[i].weight!);
        var state = ModuleStateDict.Ordered(sam).ToList();
        foreach (var (key, value) in state)
        {
            if (key.StartsWith("prompt_encoder.", StringComparison.Ordinal))
                yield return new(key, value);
        }
        foreach (var (key, value) in state)
        {
            if (key.StartsWith("mask_decoder.", StringComparison.Ordinal))
                yield return new(key, value);
        }
    }

    /// <summary>Writes a SAMed LoRA checkpoint that SAMed's load_lora_parameters reads (temp file, then move).</summary>
    public void SaveLora(string path) => PthStateDict.Write(path, LoraStateDict());

    /// <summary>
    /// Loads a SAMed LoRA checkpoint. Every expected tensor must be present with the model's shape and no unknown
    /// keys may appear; all is checked before anything is copied.
    /// </summary>
    public void LoadLora(string path)
    {
        var file = PthStateDict.Read(path);
        try
        {
            var expected = LoraStateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
            var problems = new List<string>();
            if (file.TryGetValue("w_a_000", out var firstA) && firstA.dim() == 2 && firstA.shape[0] != Rank)
                problems.Add($"LoRA rank {firstA.shape[0]} in the file but the model has rank {Rank}");
            foreach (var (key, want) in expected)
            {
                if (!file.TryGetValue(key, out var have))
                    problems.Add($"missing {key} [{SamCheckpoint.Shape(want)}]");
                else if (!have.shape.SequenceEqual(want.shape))
                    problems.Add($"{key} is [{SamCheckpoint.Shape(have)}] in the file but the model needs [{SamCheckpoint.Shape(want)}]");
            }
            foreach (var key in file.Keys.Where(k => !expected.ContainsKey(k)))
                problems.Add($"unexpected {key} [{SamCheckpoint.Shape(file[key])}]");
            if (problems.Count > 0)
            {
                throw new InvalidDataException(
                    $"{path}: not a SAMed LoRA checkpoint for this model (rank {Rank}, {w_As.Count / 2} blocks, {sam.MaskDecoder.NumMaskTokens} mask tokens): "
                    + $"{problems.Count} problem(s): {string.Join("; ", problems.Take(8))}{(problems.Count > 8 ? "; ..." : "")}");
            }
            SamCheckpoint.CopyInto(expected, file);
        }
        finally
        {
            foreach (var tensor in file.Values)
                tensor.Dispose();
        }
    }

    private static string LoraKey(string kind, int index) => $"{kind}_{index:D3}";

    private static bool IsPromptOrDecoder(string name) =>
        name.StartsWith("prompt_encoder.", StringComparison.Ordinal) || name.StartsWith("mask_decoder.", StringComparison.Ordinal);

    /// <summary>qkv(x) with B_q(A_q(x)) added to q and B_v(A_v(x)) to v, as one autograd node (<see cref="LoraQkvProjection"/>).</summary>
    private sealed class LoraQkv(Linear aQ, Linear bQ, Linear aV, Linear bV) : IQkvAdapter
    {
        public Tensor Project(Tensor input, Tensor weight, Tensor? bias) =>
            LoraQkvProjection.Project(input, weight, bias, aQ.weight!, bQ.weight!, aV.weight!, bV.weight!);
    }
}
