using System.Collections;
using System.Collections.Specialized;
using System.IO.Compression;
using Razorvine.Pickle;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace SAMed.Checkpoints;

/// <summary>
/// Reads and writes flat state dicts (name -> tensor) in PyTorch's zip format through TorchSharp.PyBridge, as
/// torch.save writes them and torch.load reads them. Tensors pickled as nn.Parameter (torch._utils._rebuild_parameter,
/// as SAMed's LoRA files are) and views sharing a storage are read as plain tensors (see
/// <see cref="PyBridgeTensorConstructors"/>). Every tensor comes back as an independent contiguous CPU tensor with
/// requires_grad false; shapes are the callers' to check.
/// </summary>
public static class PthStateDict
{
    /// <summary>Reads every tensor of a state dict saved with torch.save, in file order.</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: checkpoint file not found", path);

        using var stream = File.OpenRead(path);
        PthArchiveCheck.Verify(stream, path);
        stream.Position = 0;

        PyBridgeTensorConstructors.EnsureRegistered();
        var built = PyBridgeTensorConstructors.BeginLog();
        Hashtable table;
        try
        {
            table = PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: true, skipTensorRead: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            DisposeAll(built);
            throw new InvalidDataException($"{path}: {Explain(e, stream)}", e);
        }
        finally
        {
            PyBridgeTensorConstructors.EndLog();
        }
        return InFileOrder(table, built, path);
    }

    /// <summary>
    /// Writes tensors, in the given order, as a dict that torch.load reads back (plain tensors, requires_grad false,
    /// CPU, contiguous). Writes to a temporary file beside <paramref name="path"/> and then moves it into place.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        var ordered = new OrderedDictionary(StringComparer.Ordinal);
        try
        {
            foreach (var (name, tensor) in tensors)
            {
                if (ordered.Contains(name))
                    throw new ArgumentException($"duplicate state-dict key '{name}'", nameof(tensors));
                ordered.Add(name, Storable(tensor));
            }
            // A new file each time (AtomicFile): PyBridge writing over a larger existing file would leave its tail behind.
            IO.AtomicFile.Write(path, stream => PyTorchPickler.PickleStateDict(stream, ordered, leaveOpen: true));
        }
        finally
        {
            foreach (DictionaryEntry entry in ordered)
                ((Tensor)entry.Value!).Dispose();
        }
    }

    // PyBridge writes tensor.bytes with the tensor's own stride and storage offset: give it a dense, zero-offset copy.
    private static Tensor Storable(Tensor tensor)
    {
        var cpu = tensor.detach().to(torch.CPU);
        if (cpu.is_contiguous() && cpu.storage_offset() == 0)
            return cpu;
        using (cpu)
            return torch.empty(cpu.shape, cpu.dtype).copy_(cpu);
    }

    private static Dictionary<string, Tensor> InFileOrder(Hashtable table, List<Tensor> built, string path)
    {
        var position = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < built.Count; i++)
            position.TryAdd(built[i], i);

        var result = new Dictionary<string, Tensor>(table.Count);
        try
        {
            var entries = new List<(string Name, Tensor Tensor)>(table.Count);
            foreach (DictionaryEntry entry in table)
            {
                if (entry.Key is not string name)
                    throw new InvalidDataException($"{path}: a state-dict key is {Describe(entry.Key)}, not a string");
                if (entry.Value is not Tensor tensor)
                    throw new InvalidDataException($"{path}: entry '{name}' is {Describe(entry.Value)}, not a tensor (a checkpoint wrapping the state dict, or a whole model?)");
                entries.Add((name, tensor));
            }
            var used = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
            foreach (var (name, tensor) in entries.OrderBy(e => position.GetValueOrDefault(e.Tensor, int.MaxValue)).ThenBy(e => e.Name, StringComparer.Ordinal))
            {
                // One tensor object under two keys (tied weights) becomes two independent tensors.
                result[name] = used.Add(tensor) ? tensor : tensor.clone();
            }
        }
        catch
        {
            foreach (var tensor in result.Values.Where(t => !position.ContainsKey(t)))
                tensor.Dispose();
            DisposeAll(built);
            throw;
        }
        // Tensors built for anything but the top-level dict (e.g. inside dropped metadata) are not returned.
        var kept = new HashSet<Tensor>(result.Values, ReferenceEqualityComparer.Instance);
        DisposeAll(built.Where(t => !kept.Contains(t)));
        return result;
    }

    private static string Explain(Exception e, Stream stream) => e switch
    {
        InvalidCastException when e.Message.Contains(nameof(Razorvine.Pickle.Objects.ClassDict), StringComparison.Ordinal) =>
            $"the checkpoint holds a pickled {PickledRoot.ClassName(stream)} object, not a state dict of tensors (was a whole model saved? save model.state_dict() instead)",
        NotImplementedException => $"the checkpoint holds content that TorchSharp.PyBridge cannot read ({e.Message})",
        PickleException => $"data.pkl is not a valid pickle ({e.Message})",
        // Every record was read whole beforehand, so running out of bytes means data.pkl asks for more than a record holds.
        EndOfStreamException => $"a tensor in data.pkl reaches past the end of its storage record ({e.Message})",
        InvalidDataException or IOException => $"truncated or corrupt checkpoint ({e.Message})",
        _ => $"not a state dict of tensors ({e.GetType().Name}: {e.Message})",
    };

    private static string Describe(object? value) => value switch
    {
        null => "None",
        Razorvine.Pickle.Objects.ClassDict classDict => $"a {classDict.ClassName} object",
        Hashtable => "a dict",
        ArrayList => "a list",
        object[] => "a tuple",
        string => "a string",
        int or long => "an integer",
        double => "a float",
        bool => "a bool",
        _ => $"a {value.GetType().Name}",
    };

    private static void DisposeAll(IEnumerable<Tensor> tensors)
    {
        foreach (var tensor in tensors)
            tensor.Dispose();
    }
}
