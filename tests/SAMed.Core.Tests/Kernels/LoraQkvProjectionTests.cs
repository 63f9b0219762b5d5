using SAMed.Kernels;
using SAMed.Lora;
using SAMed.Modeling;
using SAMed.Tests.Reference;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SAMed.Tests.Kernels;

public sealed class LoraQkvProjectionTests
{
    private const long Dim = 12, Rank = 3;

    [Theory]
    [InlineData(true, true, false)]
    [InlineData(false, true, false)]
    [InlineData(true, false, false)]
    [InlineData(true, true, true)]
    [InlineData(false, false, true)]
    public void ForwardAndGradientsEqualAutogradThroughThePlainComposition(bool withBias, bool inputNeedsGrad, bool projectionTrains)
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(ScalarType.Float64, withBias, seed: withBias ? 1 : 2);
        var gradOutput = torch.randn([2, 3, 5, 3 * Dim], dtype: ScalarType.Float64);

        var (x, weight, bias, lora) = Fresh(inputs, inputNeedsGrad, projectionTrains);
        var fused = LoraQkvProjection.Project(x, weight, bias, lora[0], lora[1], lora[2], lora[3]);
        fused.backward([gradOutput]);

        var (xRef, weightRef, biasRef, loraRef) = Fresh(inputs, inputNeedsGrad, projectionTrains);
        var plain = Plain(xRef, weightRef, biasRef, loraRef);
        plain.backward([gradOutput]);

        AssertClose(plain, fused, "projection");
        AssertSameGradient(xRef, x, "input gradient");
        AssertSameGradient(weightRef, weight, "qkv weight gradient");
        if (bias is not null)
            AssertSameGradient(biasRef!, bias, "qkv bias gradient");
        string[] names = ["A_q", "B_q", "A_v", "B_v"];
        for (int i = 0; i < 4; i++)
            AssertClose(loraRef[i].grad!, lora[i].grad!, $"{names[i]} gradient");
    }

    [Fact]
    public void ThePlainKernelIsSamedsComposition()
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(ScalarType.Float64, withBias: true, seed: 5);
        var gradOutput = torch.randn([2, 3, 5, 3 * Dim], dtype: ScalarType.Float64);
        var (x, lora) = Fresh(inputs, inputNeedsGrad: true);
        PlainAttentionKernel.Instance.ProjectWithLora(x, inputs.Weight, inputs.Bias, lora[0], lora[1], lora[2], lora[3]).backward([gradOutput]);
        var (xRef, loraRef) = Fresh(inputs, inputNeedsGrad: true);
        var plain = Plain(xRef, inputs.Weight, inputs.Bias, loraRef);
        plain.backward([gradOutput]);

        using (torch.no_grad())
            AssertClose(plain, PlainAttentionKernel.Instance.ProjectWithLora(x, inputs.Weight, inputs.Bias, lora[0], lora[1], lora[2], lora[3]), "projection");
        AssertClose(xRef.grad!, x.grad!, "input gradient");
        for (int i = 0; i < 4; i++)
            AssertClose(loraRef[i].grad!, lora[i].grad!, $"LoRA matrix {i} gradient");
    }

    [Fact]
    public void WithoutGradientsComputesTheSameProjectionAndBuildsNoGraph()
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(ScalarType.Float64, withBias: true, seed: 3);
        var (x, lora) = Fresh(inputs, inputNeedsGrad: true);
        Tensor fused;
        using (torch.no_grad())
            fused = LoraQkvProjection.Project(x, inputs.Weight, inputs.Bias, lora[0], lora[1], lora[2], lora[3]);
        Assert.False(fused.requires_grad);
        AssertClose(Plain(x, inputs.Weight, inputs.Bias, lora).detach(), fused, "projection");
    }

    [Fact]
    public void ReducedPrecisionInputCastsTheLoraMatricesAndReturnsTheirGradientsInTheirOwnType()
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(ScalarType.Float32, withBias: true, seed: 4);
        var (x, lora) = Fresh(inputs, inputNeedsGrad: true);
        var xHalf = x.detach().to_type(ScalarType.BFloat16).requires_grad_(true);
        var fused = LoraQkvProjection.Project(xHalf, inputs.Weight.to_type(ScalarType.BFloat16), inputs.Bias!.to_type(ScalarType.BFloat16), lora[0], lora[1], lora[2], lora[3]);
        Assert.Equal(ScalarType.BFloat16, fused.dtype);
        fused.sum().backward();

        var (xRef, loraRef) = Fresh(inputs, inputNeedsGrad: true);
        Plain(xRef, inputs.Weight, inputs.Bias, loraRef).sum().backward();
        Assert.Equal(ScalarType.BFloat16, xHalf.grad!.dtype);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(ScalarType.Float32, lora[i].grad!.dtype);
            // bfloat16 keeps 8 bits of mantissa: the gradients agree to a few percent of their scale.
            double scale = loraRef[i].grad!.abs().max().item<float>();
            double error = (lora[i].grad! - loraRef[i].grad!).abs().max().item<float>();
            Assert.True(error <= 0.05 * scale, $"LoRA matrix {i}: bfloat16 gradient off by {error} (scale {scale})");
        }
    }

    [Fact]
    public void AnEncoderWithTrainableQkvWeightsGetsTheirGradientsAndTheSameLoraGradients()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(8);
        using var model = new LoraSam(new Sam(TestModels.Small()), 4);
        using (torch.no_grad())
        {
            foreach (var (name, parameter) in model.TrainableParameters().Where(p => p.name.StartsWith("w_b_", StringComparison.Ordinal)))
                parameter.normal_(0, 0.05);
        }
        var images = torch.rand([1, 3, 64, 64]) * 255;
        var lora = model.TrainableParameters().Where(p => p.name.StartsWith("w_", StringComparison.Ordinal)).Select(p => (Tensor)p.p).ToArray();
        Tensor[] LoraGradients()
        {
            foreach (var tensor in lora)
                tensor.grad?.zero_();
            model.ForwardLowRes(images, multimaskOutput: true).LowResLogits.square().sum().backward();
            return lora.Select(t => t.grad!.clone()).ToArray();
        }

        var frozen = LoraGradients();
        var qkvWeight = model.Sam.ImageEncoder.Blocks[0].Attn.Qkv.weight!;
        qkvWeight.requires_grad_(true);
        var trainable = LoraGradients();

        Assert.NotNull(qkvWeight.grad);
        Assert.True(qkvWeight.grad!.abs().sum().item<float>() > 0);
        for (int i = 0; i < lora.Length; i++)
        {
            double scale = frozen[i].abs().max().item<float>();
            double error = (frozen[i] - trainable[i]).abs().max().item<float>();
            Assert.True(scale > 0 && error <= 1e-4 * scale, $"LoRA tensor {i}: {error} apart (scale {scale})");
        }
    }

    private sealed record ProjectionInputs(Tensor Input, Tensor Weight, Tensor? Bias, Tensor[] Lora);

    private static ProjectionInputs Inputs(ScalarType type, bool withBias, int seed)
    {
        torch.manual_seed(seed);
        var input = torch.randn([2, 3, 5, Dim], dtype: type);
        var weight = torch.randn([3 * Dim, Dim], dtype: type);
        var bias = withBias ? torch.randn([3 * Dim], dtype: type) : null;
        Tensor[] lora = [torch.randn([Rank, Dim], dtype: type), torch.randn([Dim, Rank], dtype: type), torch.randn([Rank, Dim], dtype: type), torch.randn([Dim, Rank], dtype: type)];
        return new ProjectionInputs(input, weight, bias, lora);
    }

    private static (Tensor Input, Tensor[] Lora) Fresh(ProjectionInputs inputs, bool inputNeedsGrad) =>
        (inputs.Input.clone().requires_grad_(inputNeedsGrad), inputs.Lora.Select(t => t.clone().requires_grad_(true)).ToArray());

    private static (Tensor Input, Tensor Weight, Tensor? Bias, Tensor[] Lora) Fresh(ProjectionInputs inputs, bool inputNeedsGrad, bool projectionTrains)
    {
        var (input, lora) = Fresh(inputs, inputNeedsGrad);
        return (input, inputs.Weight.clone().requires_grad_(projectionTrains), inputs.Bias?.clone().requires_grad_(projectionTrains), lora);
    }

    /// <summary>Both have the same gradient, or (not requiring one) neither has any.</summary>
    private static void AssertSameGradient(Tensor expected, Tensor actual, string what)
    {
        if (expected.requires_grad)
            AssertClose(expected.grad!, actual.grad!, what);
        else
            Assert.Null(actual.grad);
    }

    /// <summary>SAMed's _LoRA_qkv: qkv(x), q += B_q A_q x, v += B_v A_v x (out of place).</summary>
    private static Tensor Plain(Tensor x, Tensor weight, Tensor? bias, Tensor[] lora)
    {
        var qkv = F.linear(x, weight, bias);
        var newQ = F.linear(F.linear(x, lora[0]), lora[1]);
        var newV = F.linear(F.linear(x, lora[2]), lora[3]);
        var update = torch.cat([newQ, torch.zeros_like(newQ), newV], -1);
        return qkv + update;
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double error = (expected - actual).abs().max().item<double>();
        Assert.True(error < 1e-10, $"{what}: max difference {error}");
    }
}
