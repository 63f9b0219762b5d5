using SAMed.Diagnostics;
using SAMed.Lora;
using SAMed.Tests.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Benchmarks;

/// <summary>The image encoder in bfloat16 (an inference option) predicts the same classes as float32.</summary>
public class Bfloat16InferenceTests
{
    [Theory]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    [Trait("Category", "Slow")]
    public void Bfloat16EncoderKeepsTheArgmaxOnAtLeast99PercentOfPixels(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var model = reference.CreateLoraModel();
        model.eval();
        var input = reference.Tensor("input");
        int size = reference.Model.ImageSize;

        Tensor float32Embeddings, float32Labels;
        using (var trace = model.ForwardTrace(input, multimaskOutput: true, size))
            (float32Embeddings, float32Labels) = (trace.image_embeddings.clone(), trace.Output.masks.argmax(1));

        // As inference runs it: LoRA merged into qkv, then the encoder converted; the decoder stays float32.
        var sam = LoraMerge.Merge(model);
        sam.ImageEncoder.to(ScalarType.BFloat16);
        using var bf16 = sam.ForwardTrace(input, multimaskOutput: true, size);

        Assert.Equal(ScalarType.Float32, bf16.Output.masks.dtype);
        Assert.True((bf16.image_embeddings - float32Embeddings).abs().max().item<float>() > 0, "the bfloat16 encoder gave float32's embeddings exactly: it did not run in bfloat16");
        double agreement = (bf16.Output.masks.argmax(1) == float32Labels).to_type(ScalarType.Float64).mean().item<double>();
        Assert.True(agreement >= 0.99, $"{reference.Name}: bfloat16 encoder agrees with float32 on {100 * agreement:F2}% of pixels, need 99%");
    }
}
