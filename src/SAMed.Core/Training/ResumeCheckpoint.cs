using System.Text.Json;
using System.Text.Json.Serialization;
using SAMed.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Training;

/// <summary>Where a run stands: steps done, the epoch and batch to continue at, the lr of the next step, and more.</summary>
public sealed record ResumeState
{
    /// <summary>Optimizer steps completed (SAMed's iter_num).</summary>
    public long Iteration { get; init; }

    /// <summary>The epoch the next step belongs to, and how many of its batches are done.</summary>
    public int Epoch { get; init; }
    public int BatchInEpoch { get; init; }

    /// <summary>The learning rate the optimizer holds for the next step.</summary>
    public double Lr { get; init; }

    public double ElapsedSeconds { get; init; }

    /// <summary>The .npz beside resume.json with the trainable tensors and the optimizer state.</summary>
    public string TensorsFile { get; init; } = "";

    /// <summary>Sum of |w| over the frozen tensors, to detect a resume onto a different base model.</summary>
    public double FrozenChecksum { get; init; }

    /// <summary>libtorch's CPU generator state (base64).</summary>
    public string TorchRngState { get; init; } = "";

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };
}

/// <summary>
/// Resume checkpoints: resume_NNNNNNN.npz (param/NAME and the optimizer's state of that tensor: exp_avg/NAME,
/// exp_avg_sq/NAME, step/NAME for AdamW, momentum_buffer/NAME for SGD) and resume.json naming it. Both are written through a temporary file and a rename, the
/// .npz first, so resume.json always names a complete checkpoint; older .npz files are removed afterwards.
/// </summary>
public static class ResumeCheckpoint
{
    public const string PointerFile = "resume.json";

    public static void Save(string runDirectory, ResumeState state, IReadOnlyList<(string Name, Parameter Parameter)> trainable, SamedOptimizer optimizer)
    {
        if (optimizer.Parameters.Count != trainable.Count)
            throw new InvalidOperationException($"optimizer holds {optimizer.Parameters.Count} tensors but {trainable.Count} are trainable");
        string fileName = $"resume_{state.Iteration:D7}.npz";
        var arrays = new List<KeyValuePair<string, NpyArray>>();
        using (var scope = NewDisposeScope())
        {
            for (int i = 0; i < trainable.Count; i++)
            {
                var (name, parameter) = trainable[i];
                arrays.Add(new($"param/{name}", TensorArrays.ToArray(parameter)));
                foreach (var (key, value) in optimizer.State(i))
                    arrays.Add(new($"{key}/{name}", TensorArrays.ToArray(value)));
            }
        }
        Npz.Write(Path.Combine(runDirectory, fileName), arrays);

        var pointer = state with { TensorsFile = fileName };
        string pointerPath = Path.Combine(runDirectory, PointerFile);
        IO.AtomicFile.WriteText(pointerPath, JsonSerializer.Serialize(pointer, ResumeState.Json) + "\n");

        foreach (string old in Directory.EnumerateFiles(runDirectory, "resume_*.npz"))
        {
            if (Path.GetFileName(old) != fileName)
                File.Delete(old);
        }
    }

    /// <summary>The run's latest complete resume state, or null when it has none.</summary>
    public static ResumeState? Find(string runDirectory)
    {
        string pointerPath = Path.Combine(runDirectory, PointerFile);
        if (!File.Exists(pointerPath))
            return null;
        try
        {
            return JsonSerializer.Deserialize<ResumeState>(File.ReadAllText(pointerPath), ResumeState.Json)
                ?? throw new InvalidDataException($"{pointerPath}: empty resume state");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{pointerPath}: unreadable resume state ({e.Message})", e);
        }
    }

    /// <summary>Loads the trainable tensors and the optimizer state saved with <paramref name="state"/>.</summary>
    public static void Restore(string runDirectory, ResumeState state, IReadOnlyList<(string Name, Parameter Parameter)> trainable, SamedOptimizer optimizer)
    {
        string path = Path.Combine(runDirectory, state.TensorsFile);
        var arrays = Npz.Read(path);
        var byTensor = new Dictionary<string, Dictionary<string, NpyArray>>(StringComparer.Ordinal);
        foreach (var (key, array) in arrays)
        {
            int slash = key.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0)
                throw new InvalidDataException($"{path}: unexpected member '{key}'");
            string name = key[(slash + 1)..];
            if (!byTensor.TryGetValue(name, out var entries))
                byTensor[name] = entries = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
            entries[key[..slash]] = array;
        }
        var names = trainable.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var unknown = byTensor.Keys.Where(n => !names.Contains(n)).Take(5).ToList();
        if (unknown.Count > 0)
            throw new InvalidDataException($"{path}: holds tensors this model does not train: {string.Join(", ", unknown)}");

        using var scope = NewDisposeScope();
        for (int i = 0; i < trainable.Count; i++)
        {
            var (name, parameter) = trainable[i];
            if (!byTensor.TryGetValue(name, out var entries) || !entries.TryGetValue("param", out var stored))
                throw new InvalidDataException($"{path}: no 'param/{name}' (the checkpoint does not match this model)");
            TensorArrays.CopyInto(parameter, stored, $"{path}: param/{name}");
            var optimizerState = entries.Where(e => e.Key != "param").ToDictionary(e => e.Key, e => e.Value.ToTensor());
            optimizer.LoadState(i, optimizerState, $"{path}: {name}");
        }
        optimizer.LearningRate = state.Lr;
        if (state.TorchRngState.Length > 0)
        {
            var rng = tensor(Convert.FromBase64String(state.TorchRngState), ScalarType.Byte);
            torch.random.set_rng_state(rng);
        }
    }

    public static string CaptureTorchRng()
    {
        using var rng = torch.random.get_rng_state();
        return Convert.ToBase64String(rng.data<byte>().ToArray());
    }

    public static double FrozenChecksum(IEnumerable<Parameter> frozen)
    {
        using var scope = NewDisposeScope();
        double sum = 0;
        foreach (var p in frozen)
        {
            // A bfloat16 encoder is widened to float32 (exactly) first: a bfloat16 sum would keep only 8 significant bits.
            var values = p.dtype is ScalarType.BFloat16 or ScalarType.Float16 ? p.detach().to_type(ScalarType.Float32) : p.detach();
            sum += values.abs().sum().to_type(ScalarType.Float64).item<double>();
        }
        return sum;
    }
}
