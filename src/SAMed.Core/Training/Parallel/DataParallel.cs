using SAMed.Adaptation;
using SAMed.Checkpoints;
using SAMed.TorchInterop;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Training.Parallel;

/// <summary>
/// torch.nn.DataParallel for an adapted SAM: one replica per device, each driven by its own thread.
/// <para>
/// DataParallel.forward (torch/nn/parallel/data_parallel.py) scatters the batch along dim 0 with torch.chunk
/// (<see cref="BatchScatter"/>), replicates the module onto the devices with a broadcast of its parameters, runs
/// each replica on its chunk in its own thread (parallel_apply, which carries the caller's grad mode into each
/// thread) and gathers the outputs on the first device with a concatenation. The broadcast and the gather are
/// autograd functions, so the loss computed on the whole gathered batch differentiates through every replica, and the
/// broadcast's backward (ReduceAddCoalesced) sums each replica's gradient into the original parameters: the gradient
/// of the whole batch, the same as on one device up to the order of float sums.
/// </para>
/// <para>
/// Here the model on the first device is the original (replica 0, as DataParallel's replica 0 shares the module's
/// tensors); the other replicas are built once and receive every tensor of it once (<see cref="Create"/>), frozen
/// weights included. Per step only the trainable tensors move: <see cref="Broadcast"/> copies their values into the
/// replicas and clears the replicas' gradients, <see cref="Forward"/> runs the replicas and gathers their low-res
/// logits on the first device with differentiable copies (Tensor.to), so a backward of the whole-batch loss reaches
/// every replica's parameters (on CUDA libtorch's autograd engine runs each device's part on that device's own
/// thread; CPU replicas' parts run one after another in the calling thread), and <see cref="ReduceGradients"/> adds
/// the replicas' gradients into the first device's, in device order, as ReduceAddCoalesced does. The optimizer then
/// steps the first device's tensors alone, and the next <see cref="Broadcast"/> hands the result to every replica.
/// </para>
/// <para>
/// SAM has no batch normalisation (only LayerNorm and LayerNorm2d), so no statistics are computed per replica: the
/// forward of a chunk equals the rows of the whole batch's forward.
/// </para>
/// </summary>
public sealed class DataParallel : IDisposable
{
    private readonly AdaptedSam[] models;
    private readonly Device[] devices;
    private readonly ReplicaThread[] threads;
    private readonly (Parameter Master, Parameter Replica)[][] trainable;
    private readonly Func<AdaptedSam, Tensor, Tensor> forward;
    private readonly Action<int>? beforeForward;

    private DataParallel(AdaptedSam[] models, IReadOnlyList<string> deviceNames, Func<AdaptedSam, Tensor, Tensor> forward, Action<int>? beforeForward)
    {
        this.models = models;
        this.forward = forward;
        this.beforeForward = beforeForward;
        DeviceNames = [.. deviceNames];
        devices = [.. deviceNames.Select(TorchDevices.Parse)];
        var masterTrainable = models[0].TrainableParameters().ToList();
        trainable = [.. models.Select(replica => Pair(masterTrainable, replica.TrainableParameters().ToList()))];
        threads = [.. deviceNames.Select((name, k) => new ReplicaThread($"replica {k} ({name})"))];
    }

    /// <summary>The devices, in order; the first holds the model the optimizer steps.</summary>
    public IReadOnlyList<string> DeviceNames { get; }

    /// <summary>The model on the first device (the one the optimizer, checkpoints and evaluation use).</summary>
    public AdaptedSam Master => models[0];

    /// <summary>
    /// Replicates <paramref name="master"/> (on <paramref name="deviceNames"/>[0]) onto the other devices: each replica
    /// is built from the master's <see cref="AdaptedSam.Spec"/> on its device and then receives every tensor of the
    /// master (parameters and buffers, frozen ones included), once. libtorch's global generator is left as it was.
    /// </summary>
    /// <param name="forward">A replica's training forward on its chunk: the low-res logits.</param>
    /// <param name="beforeForward">Called on a replica's thread with its index before each of its forwards.</param>
    public static DataParallel Create(AdaptedSam master, IReadOnlyList<string> deviceNames, Func<AdaptedSam, Tensor, Tensor> forward,
        Action<int>? beforeForward = null)
    {
        if (deviceNames.Count < 2)
            throw new ArgumentException("data parallelism needs at least two devices", nameof(deviceNames));
        var spec = master.Spec ?? throw new ArgumentException("the model has no description (Spec) to build replicas from", nameof(master));
        var models = new List<AdaptedSam> { master };
        using var rng = torch.random.get_rng_state();
        try
        {
            for (int k = 1; k < deviceNames.Count; k++)
            {
                try
                {
                    var replica = ModelFactory.Create(spec, device: TorchDevices.Parse(deviceNames[k]));
                    models.Add(replica);
                    CopyEveryTensor(master, replica);
                }
                catch (Exception e) when (e is not ArgumentException)
                {
                    // Out of memory or a broken device while the replica is built: name it.
                    throw new ReplicaFailedException(deviceNames[k], k, deviceNames.Count, e);
                }
            }
            return new DataParallel([.. models], deviceNames, forward, beforeForward);
        }
        catch
        {
            foreach (var replica in models.Skip(1))
                replica.Dispose();
            throw;
        }
        finally
        {
            torch.random.set_rng_state(rng);
        }
    }

    /// <summary>
    /// Copies the first device's trainable tensors into every other replica and clears the replicas' gradients (the
    /// fresh replicas of DataParallel's per-forward replicate). Call once per optimizer step, before its forwards.
    /// </summary>
    public void Broadcast()
    {
        using var noGrad = no_grad();
        for (int k = 1; k < models.Length; k++)
        {
            foreach (var (master, replica) in trainable[k])
            {
                replica.copy_(master);
                using var grad = replica.grad;
                grad?.zero_();
            }
        }
    }

    /// <summary>
    /// The low-res logits of <paramref name="images"/> (on the first device), computed by the replicas on their
    /// chunks and gathered on the first device along dim 0; differentiable into every replica. A replica that fails
    /// raises a <see cref="ReplicaFailedException"/> after every replica's thread has finished.
    /// </summary>
    public Tensor Forward(Tensor images)
    {
        var sizes = BatchScatter.ChunkSizes(images.shape[0], devices.Length);
        var chunks = images.split(sizes);
        bool gradEnabled = torch.is_grad_enabled();
        var tasks = new Task<Tensor>[sizes.Length];
        for (int k = 0; k < sizes.Length; k++)
        {
            int replica = k;
            tasks[k] = threads[k].Run(() => ReplicaForward(replica, chunks[replica], gradEnabled));
        }
        var parts = Await(tasks);
        try
        {
            return torch.cat(parts.Select(p => p.to(devices[0])).ToArray(), 0);
        }
        finally
        {
            foreach (var part in parts)
                part.Dispose();
        }
    }

    /// <summary>Adds every other replica's gradients into the first device's (ReduceAddCoalesced's sum, in device order).</summary>
    public void ReduceGradients()
    {
        using var noGrad = no_grad();
        for (int k = 1; k < models.Length; k++)
        {
            foreach (var (master, replica) in trainable[k])
            {
                using var replicaGrad = replica.grad;
                if (replicaGrad is null)
                    continue;
                using var moved = replicaGrad.to(devices[0]);
                using var masterGrad = master.grad;
                if (masterGrad is null)
                    master.grad = moved.clone();
                else
                    masterGrad.add_(moved);
            }
        }
    }

    /// <summary>Runs on replica <paramref name="k"/>'s thread: its chunk moved to its device, its forward, in its own dispose scope.</summary>
    private Tensor ReplicaForward(int k, Tensor chunk, bool gradEnabled)
    {
        using var gradMode = torch.set_grad_enabled(gradEnabled);
        using var scope = NewDisposeScope();
        beforeForward?.Invoke(k);
        var logits = forward(models[k], chunk.to(devices[k]));
        return logits.DetachFromDisposeScope();
    }

    /// <summary>Waits for every replica; the first failure (in device order) is raised naming its device.</summary>
    private Tensor[] Await(Task<Tensor>[] tasks)
    {
        try
        {
            Task.WaitAll(tasks);
        }
        catch (AggregateException)
        {
            foreach (var done in tasks.Where(t => t.IsCompletedSuccessfully))
                done.Result.Dispose();
            int failed = Array.FindIndex(tasks, t => t.IsFaulted);
            var cause = tasks[failed].Exception!.InnerException!;
            throw new ReplicaFailedException(DeviceNames[failed], failed, devices.Length, cause);
        }
        return [.. tasks.Select(t => t.Result)];
    }

    private static void CopyEveryTensor(AdaptedSam from, AdaptedSam to)
    {
        using var noGrad = no_grad();
        var target = ModuleStateDict.Ordered(to).ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (name, source) in ModuleStateDict.Ordered(from))
        {
            if (!target.TryGetValue(name, out var tensor) || !tensor.shape.SequenceEqual(source.shape))
                throw new InvalidOperationException($"replica: {name} does not match the model's (was the model changed after it was built?)");
            tensor.copy_(source);
        }
    }

    private static (Parameter, Parameter)[] Pair(List<(string name, Parameter p)> master, List<(string name, Parameter p)> replica)
    {
        if (!master.Select(t => t.name).SequenceEqual(replica.Select(t => t.name)))
            throw new InvalidOperationException("replica: its trainable tensors differ from the model's");
        return [.. master.Zip(replica, (m, r) => (m.p, r.p))];
    }

    public void Dispose()
    {
        foreach (var thread in threads)
            thread.Dispose();
        foreach (var replica in models.Skip(1))
            replica.Dispose();
    }
}
