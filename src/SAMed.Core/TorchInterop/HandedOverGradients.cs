using static TorchSharp.torch;

namespace SAMed.TorchInterop;

/// <summary>
/// The gradients a custom autograd function's backward returned last on this thread. libtorch holds its own
/// references once backward has returned, so their .NET handles can be disposed at the function's next backward call
/// instead of waiting for the garbage collector (which would keep the native memory until a collection).
/// </summary>
public sealed class HandedOverGradients
{
    private readonly ThreadLocal<List<Tensor>?> gradients = new();

    /// <summary>Disposes the handles kept by the previous <see cref="Keep"/> on this thread.</summary>
    public void Release()
    {
        if (gradients.Value is not { } previous)
            return;
        foreach (var tensor in previous)
            tensor.Dispose();
        gradients.Value = null;
    }

    /// <summary>Keeps the handles of the gradients about to be returned (nulls skipped) until the next <see cref="Release"/>.</summary>
    public void Keep(params Tensor?[] returned) => gradients.Value = [.. returned.OfType<Tensor>()];
}
