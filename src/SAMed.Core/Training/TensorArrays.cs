using SAMed.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Training;

/// <summary>Tensor to and from <see cref="NpyArray"/> (float32 and int64), for checkpoints written as .npz.</summary>
public static class TensorArrays
{
    public static NpyArray ToArray(Tensor tensor)
    {
        using var cpu = tensor.detach().cpu().contiguous();
        return cpu.dtype switch
        {
            ScalarType.Float32 => NpyArray.FromFloat32(cpu.data<float>().ToArray(), cpu.shape),
            ScalarType.Int64 => NpyArray.FromInt64(cpu.data<long>().ToArray(), cpu.shape),
            ScalarType.Byte => NpyArray.FromUInt8(cpu.data<byte>().ToArray(), cpu.shape),
            _ => throw new NotSupportedException($"no checkpoint encoding for {cpu.dtype} tensors"),
        };
    }

    /// <summary>Copies a stored array into an existing tensor of the same shape (on the tensor's device).</summary>
    public static void CopyInto(Tensor target, NpyArray source, string what)
    {
        if (!source.Shape.SequenceEqual(target.shape))
            throw new InvalidDataException($"{what}: stored shape [{string.Join(", ", source.Shape)}] but the model has [{string.Join(", ", target.shape)}]");
        using var stored = source.ToTensor();
        using var _ = no_grad();
        target.copy_(stored);
    }
}
