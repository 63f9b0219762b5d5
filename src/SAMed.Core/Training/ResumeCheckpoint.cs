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
/// Resume checkpoints: resume_NNNNNN.npz (param/NAME, exp_avg/NAME, exp_avg_sq/NAME, step/NAME for AdamW;
/// momentum/NAME for SGD) and resume.json naming it. Both are written through a temporary file and a rename, the
/// .npz first, so resume.json always names a complete checkpoint; older .npz files are removed afterwards.
/// </summary>
public static class ResumeCheckpoint
{
    public const string PointerFile = "resume.json";

    public static void Save(string runDirectory, ResumeState state, IReadOnlyList<(string Name, Parameter Parameter)> trainable, optim.Optimizer optimizer)
    {
        string fileName = $"resume_{state.Iteration:D7}.npz";
        var arrays = new List<KeyValuePair<string, NpyArray>>();
        var states = optimizer is OptimizerHelper helper ? helper.state_dict().State : throw new NotSupportedException("optimizer has no readable state");
        if (states.Count != trainable.Count)
            throw new InvalidOperationException($"optimizer holds {states.Count} tensors but {trainable.Count} are trainable");
        for (int i = 0; i < trainable.Count; i++)
        {
            var (name, parameter) = trainable[i];
            arrays.Add(new($"param/{name}", TensorArrays.ToArray(parameter)));
            switch (states[i])
            {
                case AdamW.State adam:
                    arrays.Add(new($"exp_avg/{name}", TensorArrays.ToArray(adam.exp_avg)));
                    arrays.Add(new($"exp_avg_sq/{name}", TensorArrays.ToArray(adam.exp_avg_sq)));
                    arrays.Add(new($"step/{name}", NpyArray.FromInt64([adam.step], 1)));
                    break;
                case SGD.State sgd when sgd.momentum_buffer is not null:
                    arrays.Add(new($"momentum/{name}", TensorArrays.ToArray(sgd.momentum_buffer)));
                    break;
                case SGD.State:
                    break;
                default:
                    throw new NotSupportedException($"cannot save optimizer state {states[i].GetType().Name}");
            }
        }
        Npz.Write(Path.Combine(runDirectory, fileName), arrays);

        var pointer = state with { TensorsFile = fileName };
        string pointerPath = Path.Combine(runDirectory, PointerFile);
        File.WriteAllText(pointerPath + ".tmp", JsonSerializer.Serialize(pointer, ResumeState.Json) + "\n");
        File.Move(pointerPath + ".tmp", pointerPath, overwrite: true);

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
    public static void Restore(string runDirectory, ResumeState state, IReadOnlyList<(string Name, Parameter Parameter)> trainable, optim.Optimizer optimizer)
    {
        string path = Path.Combine(runDirectory, state.TensorsFile);
        var arrays = Npz.Read(path);
        NpyArray Get(string key) => arrays.TryGetValue(key, out var array)
            ? array
            : throw new InvalidDataException($"{path}: no '{key}' (the checkpoint does not match this model)");
        var states = ((OptimizerHelper)optimizer).state_dict().State;
        int expected = 0;
        for (int i = 0; i < trainable.Count; i++)
        {
            var (name, parameter) = trainable[i];
            TensorArrays.CopyInto(parameter, Get($"param/{name}"), $"{path}: param/{name}");
            expected++;
            switch (states[i])
            {
                case AdamW.State adam:
                    TensorArrays.CopyInto(adam.exp_avg, Get($"exp_avg/{name}"), $"{path}: exp_avg/{name}");
                    TensorArrays.CopyInto(adam.exp_avg_sq, Get($"exp_avg_sq/{name}"), $"{path}: exp_avg_sq/{name}");
                    adam.step = Get($"step/{name}").ToInt64()[0];
                    expected += 3;
                    break;
                case SGD.State sgd when arrays.TryGetValue($"momentum/{name}", out var momentum):
                    using (no_grad())
                    {
                        using var stored = momentum.ToTensor();
                        sgd.momentum_buffer = stored.to(parameter.device).clone().DetachFromDisposeScope();
                    }
                    expected++;
                    break;
            }
        }
        if (arrays.Count != expected)
        {
            var known = trainable.Select(t => t.Name).ToHashSet();
            var extra = arrays.Keys.Where(k => !known.Contains(k[(k.IndexOf('/', StringComparison.Ordinal) + 1)..])).Take(5);
            throw new InvalidDataException($"{path}: holds tensors this model does not train: {string.Join(", ", extra)}");
        }
        OptimizerFactory.SetLearningRate(optimizer, state.Lr);
        if (state.TorchRngState.Length > 0)
        {
            using var rng = tensor(Convert.FromBase64String(state.TorchRngState), ScalarType.Byte);
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
            sum += p.detach().abs().sum().to_type(ScalarType.Float64).item<double>();
        return sum;
    }
}
