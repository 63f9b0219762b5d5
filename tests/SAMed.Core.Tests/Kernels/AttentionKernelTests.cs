using SAMed.Kernels;
using SAMed.Lora;
using SAMed.Modeling;
using SAMed.Tests.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Kernels;

/// <summary>The model with the hand-written kernels against the same model with SAM's and SAMed's plain formulas.</summary>
public sealed class AttentionKernelTests
{
    [Fact]
    public void TheModelUsesTheHandWrittenKernelsByDefault()
    {
        using var sam = new Sam(TestModels.Small());
        Assert.All(sam.ImageEncoder.Blocks, block => Assert.Same(FastAttentionKernel.Instance, block.Attn.Kernel));
        sam.ImageEncoder.UseAttentionKernel(PlainAttentionKernel.Instance);
        Assert.All(sam.ImageEncoder.Blocks, block => Assert.Same(PlainAttentionKernel.Instance, block.Attn.Kernel));
    }

    [Theory]
    [InlineData(3, false)] // 4 x 4 tokens padded to 6 x 6 windows of 3, frozen position tables (SAMed's training)
    [InlineData(3, true)] // the same with trainable position tables: libtorch's attention on the real tokens' projections
    [InlineData(2, false)] // windows without padding
    public void LoraEncoderGivesThePlainEmbeddingsAndGradients(int windowSize, bool trainablePositions)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(21);
        using var model = new LoraSam(new Sam(TestModels.Small(windowSize: windowSize)), rank: 3);
        // The image encoder and LoRA in float64 (the prompt encoder's Gaussian matrix stays float32: not run here).
        model.to(ScalarType.Float64);
        using (torch.no_grad())
        {
            foreach (var (name, parameter) in model.TrainableParameters().Where(p => LoraSam.IsBKey(p.name)))
                parameter.normal_(0, 0.1);
            foreach (var (name, parameter) in model.Sam.ImageEncoder.named_parameters().Where(p => p.name.Contains("rel_pos", StringComparison.Ordinal)))
                parameter.normal_(0, 0.5).requires_grad_(trainablePositions);
        }
        var images = torch.randn([2, 3, 64, 64], dtype: ScalarType.Float64);
        var trained = model.TrainableParameters().Where(p => p.name.StartsWith("w_", StringComparison.Ordinal)).Select(p => (Tensor)p.p)
            .Concat(model.Sam.ImageEncoder.parameters().Where(p => p.requires_grad)).ToArray();

        (Tensor Inference, Tensor Embeddings, Tensor[] Gradients) Run(IAttentionKernel kernel)
        {
            model.Sam.ImageEncoder.UseAttentionKernel(kernel);
            foreach (var tensor in trained)
                tensor.grad?.zero_();
            Tensor inference;
            using (torch.no_grad())
                inference = model.Sam.ImageEncoder.forward(images);
            var embeddings = model.Sam.ImageEncoder.forward(images);
            embeddings.square().sum().backward();
            return (inference, embeddings.detach(), trained.Select(t => t.grad!.clone()).ToArray());
        }

        var plain = Run(PlainAttentionKernel.Instance);
        var fast = Run(FastAttentionKernel.Instance);

        Assert.Equal(4 * 2 + (trainablePositions ? 4 : 0), trained.Length); // LoRA's q and v matrices of 2 blocks, position tables
        AssertClose("inference embeddings", fast.Inference, plain.Inference);
        AssertClose("training embeddings", fast.Embeddings, plain.Embeddings);
        for (int i = 0; i < trained.Length; i++)
            AssertClose($"gradient of trained tensor {i}", fast.Gradients[i], plain.Gradients[i]);
    }

    private static void AssertClose(string what, Tensor have, Tensor want)
    {
        Assert.Equal(want.shape, have.shape);
        double error = (have - want).abs().max().item<double>();
        double scale = Math.Max(1e-3, want.abs().max().item<double>());
        Assert.True(error <= 1e-10 * scale, $"{what}: max abs difference {error:E2} (scale {scale:E2})");
    }
}
