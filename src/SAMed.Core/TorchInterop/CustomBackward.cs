using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.TorchInterop;

/// <summary>
/// What every custom autograd function's backward does around its own computation: free the saved tensors once used,
/// as libtorch's own nodes do after their backward, and dispose the .NET handles of the gradients it returned at the
/// next call (libtorch holds its own references by then; the garbage collector would keep their memory until a
/// collection).
/// </summary>
public sealed class CustomBackward(string function)
{
    private const string ReleasedKey = "released";
    private readonly ThreadLocal<List<Tensor>?> handedOver = new();

    /// <summary>Call first: releases the previous call's gradient handles and returns the saved tensors.</summary>
    public List<Tensor> Begin(autograd.AutogradContext ctx)
    {
        if (handedOver.Value is { } previous)
        {
            foreach (var tensor in previous)
                tensor.Dispose();
            handedOver.Value = null;
        }
        // An exception here ends the process (TorchSharp calls backward from native code), but with this message
        // instead of a read of freed tensors.
        if (ctx.get_data(ReleasedKey) is true)
            throw new InvalidOperationException($"{function}: its saved tensors were freed by an earlier backward (retain_graph is not supported)");
        return ctx.get_saved_variables();
    }

    /// <summary>
    /// Call last: frees the saved tensors and the incoming gradient, and keeps the handles of the gradients about to
    /// be returned (nulls skipped) until the next <see cref="Begin"/> on this thread.
    /// </summary>
    public void End(autograd.AutogradContext ctx, List<Tensor> saved, Tensor gradOutput, params Tensor?[] returned)
    {
        foreach (var tensor in saved)
            tensor?.Dispose();
        ctx.save_data(ReleasedKey, true);
        ctx.Dispose();
        gradOutput.Dispose();
        handedOver.Value = [.. returned.OfType<Tensor>()];
    }
}
