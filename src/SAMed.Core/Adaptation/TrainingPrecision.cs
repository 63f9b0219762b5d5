using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Adaptation;

/// <summary>
/// Reduced-precision training, the explicit-cast counterpart of SAMed_h's torch.autocast (TorchSharp has no
/// autocast). With "bfloat16" the frozen image encoder's weights are converted to bfloat16 and the encoder computes
/// in it (it gets no gradients, so it needs no float32 master copy); the LoRA matrices, prompt encoder and mask
/// decoder stay float32 parameters with float32 gradients and optimizer state (LoRA casts its weights to the block's
/// type inside the adapter), the embeddings return to float32 before the decoder, and the loss is float32.
/// <para>
/// float16 is not offered: without a gradient scaler (TorchSharp 0.107 has no GradScaler) the float16 gradients
/// that flow back through the encoder to LoRA can underflow.
/// </para>
/// </summary>
public static class TrainingPrecision
{
    public const string Float32 = "float32";
    public const string Bfloat16 = "bfloat16";

    /// <summary>The values of the precision setting.</summary>
    public static IReadOnlyList<string> Names { get; } = [Float32, Bfloat16];

    public static bool IsKnown(string? precision) => precision is Float32 or Bfloat16;

    /// <summary>The type the frozen image encoder holds and computes in.</summary>
    public static ScalarType EncoderType(string precision) => precision switch
    {
        Float32 => ScalarType.Float32,
        Bfloat16 => ScalarType.BFloat16,
        _ => throw new ArgumentException($"precision '{precision}' must be one of {string.Join(", ", Names)}", nameof(precision)),
    };

    /// <summary>Converts the frozen image encoder to the precision's type; the trainable tensors are left as they are.</summary>
    public static void Apply(AdaptedSam model, string precision)
    {
        var type = EncoderType(precision);
        var encoder = model.Sam.ImageEncoder;
        if (encoder.parameters().All(p => p.dtype == type))
            return;
        if (encoder.parameters().Any(p => p.requires_grad))
            throw new InvalidOperationException($"the image encoder has trainable weights ({model.Strategy}); only a frozen encoder may change precision");
        encoder.to(type);
    }

    /// <summary>
    /// torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32 for a CUDA run, and SAMed's
    /// deterministic setting (cudnn.deterministic on and cudnn.benchmark off, or the reverse; see
    /// <see cref="CudnnFlags"/>). Process-wide libtorch flags; a CPU run leaves them alone.
    /// </summary>
    public static void ConfigureBackends(string device, bool allowTf32, bool deterministic = true)
    {
        if (!device.StartsWith("cuda", StringComparison.Ordinal))
            return;
        torch.backends.cuda.matmul.allow_tf32 = allowTf32;
        torch.backends.cudnn.allow_tf32 = allowTf32;
        CudnnFlags.Apply(deterministic);
    }
}
