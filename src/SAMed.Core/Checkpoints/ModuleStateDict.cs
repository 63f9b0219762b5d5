using static TorchSharp.torch;

namespace SAMed.Checkpoints;

/// <summary>
/// A module's state dict in PyTorch's order: each module's own parameters, then its own buffers, then its children
/// in registration order. (TorchSharp's state_dict lists all parameters before all buffers.)
/// </summary>
public static class ModuleStateDict
{
    public static IEnumerable<KeyValuePair<string, Tensor>> Ordered(nn.Module module, string prefix = "")
    {
        foreach (var (name, parameter) in module.named_parameters(recurse: false))
            yield return new(prefix + name, parameter);
        foreach (var (name, buffer) in module.named_buffers(recurse: false))
            yield return new(prefix + name, buffer);
        foreach (var (name, child) in module.named_children())
        {
            foreach (var entry in Ordered(child, $"{prefix}{name}."))
                yield return entry;
        }
    }
}
