using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Training;

/// <summary>
/// PyTorch's AdamW and SGD for SAMed's trainable tensors, with per-tensor state that resume checkpoints save.
/// <para>
/// Written here rather than taken from torch.optim because TorchSharp's optimizers pass scalars through implicit
/// conversions (param.mul_(1 - lr * wd), add_(grad, alpha: ...)): each creates a <see cref="Scalar"/> that only
/// the garbage collector frees, and its finalizer can free the native scalar while libtorch is still reading it
/// (seen as "Unknown scalar type" errors and crashes under load). Every scalar here lives in a using block that
/// outlasts the native call.
/// </para>
/// </summary>
public abstract class SamedOptimizer : IDisposable
{
    protected SamedOptimizer(IEnumerable<Parameter> parameters, double learningRate)
    {
        Parameters = parameters.ToList();
        LearningRate = learningRate;
    }

    public IReadOnlyList<Parameter> Parameters { get; }

    public double LearningRate { get; set; }

    /// <summary>Zeroes the gradients that exist (tensors backward never reached keep none, as in PyTorch).</summary>
    public void ZeroGrad()
    {
        foreach (var parameter in Parameters)
        {
            using var grad = parameter.grad;
            grad?.zero_();
        }
    }

    /// <summary>Updates every tensor that has a gradient; tensors without one are skipped, state and all.</summary>
    public void Step()
    {
        using var noGrad = no_grad();
        for (int i = 0; i < Parameters.Count; i++)
        {
            using var scope = NewDisposeScope();
            var grad = Parameters[i].grad;
            if (grad is not null)
                Update(i, Parameters[i], grad);
        }
    }

    protected abstract void Update(int index, Parameter parameter, Tensor grad);

    /// <summary>The state of tensor <paramref name="index"/> by name (empty before its first update).</summary>
    public abstract IReadOnlyDictionary<string, Tensor> State(int index);

    /// <summary>Replaces the state of tensor <paramref name="index"/> with copies of the given tensors.</summary>
    public abstract void LoadState(int index, IReadOnlyDictionary<string, Tensor> state, string source);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);

    protected static Tensor Copy(Tensor source, Parameter like, string source_, string key)
    {
        if (!source.shape.SequenceEqual(like.shape))
            throw new InvalidDataException($"{source_}: {key} has shape [{string.Join(", ", source.shape)}], the tensor [{string.Join(", ", like.shape)}]");
        return source.to(like.dtype, like.device).clone().DetachFromDisposeScope();
    }
}

/// <summary>
/// torch.optim.AdamW (decoupled weight decay): step += 1; p *= 1 - lr * wd; m = b1 m + (1 - b1) g;
/// v = b2 v + (1 - b2) g^2; p -= lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps).
/// </summary>
public sealed class AdamWOptimizer(IEnumerable<Parameter> parameters, double learningRate, double beta1, double beta2, double eps, double weightDecay)
    : SamedOptimizer(parameters, learningRate)
{
    private readonly Dictionary<int, (long Step, Tensor ExpAvg, Tensor ExpAvgSq)> state = [];

    protected override void Update(int index, Parameter parameter, Tensor grad)
    {
        if (!state.TryGetValue(index, out var s))
        {
            s = (0, zeros_like(parameter).DetachFromDisposeScope(), zeros_like(parameter).DetachFromDisposeScope());
        }
        long step = s.Step + 1;
        state[index] = (step, s.ExpAvg, s.ExpAvgSq);

        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        using var decay = (1 - LearningRate * weightDecay).ToScalar();
        using var b1 = beta1.ToScalar();
        using var oneMinusB1 = (1 - beta1).ToScalar();
        using var b2 = beta2.ToScalar();
        using var oneMinusB2 = (1 - beta2).ToScalar();
        using var sqrtCorrection2 = Math.Sqrt(biasCorrection2).ToScalar();
        using var epsilon = eps.ToScalar();
        using var negativeStepSize = (-LearningRate / biasCorrection1).ToScalar();

        parameter.mul_(decay);
        s.ExpAvg.mul_(b1).add_(grad, oneMinusB1);
        s.ExpAvgSq.mul_(b2).addcmul_(grad, grad, oneMinusB2);
        using var denominator = s.ExpAvgSq.sqrt();
        denominator.div_(sqrtCorrection2).add_(epsilon);
        parameter.addcdiv_(s.ExpAvg, denominator, negativeStepSize);
    }

    public override IReadOnlyDictionary<string, Tensor> State(int index) => state.TryGetValue(index, out var s)
        ? new Dictionary<string, Tensor> { ["step"] = tensor(s.Step), ["exp_avg"] = s.ExpAvg, ["exp_avg_sq"] = s.ExpAvgSq }
        : new Dictionary<string, Tensor>();

    public override void LoadState(int index, IReadOnlyDictionary<string, Tensor> loaded, string source)
    {
        if (state.Remove(index, out var old))
        {
            old.ExpAvg.Dispose();
            old.ExpAvgSq.Dispose();
        }
        if (loaded.Count == 0)
            return;
        Tensor Get(string key) => loaded.TryGetValue(key, out var t) ? t : throw new InvalidDataException($"{source}: AdamW state has no {key}");
        var parameter = Parameters[index];
        state[index] = (Get("step").to_type(ScalarType.Int64).item<long>(),
            Copy(Get("exp_avg"), parameter, source, "exp_avg"), Copy(Get("exp_avg_sq"), parameter, source, "exp_avg_sq"));
    }

    protected override void Dispose(bool disposing)
    {
        foreach (var s in state.Values)
        {
            s.ExpAvg.Dispose();
            s.ExpAvgSq.Dispose();
        }
        state.Clear();
    }
}

/// <summary>
/// torch.optim.SGD with momentum (dampening 0, not Nesterov): d = g + wd p; buf = d on the first step, else
/// buf = momentum buf + d; p -= lr buf.
/// </summary>
public sealed class SgdOptimizer(IEnumerable<Parameter> parameters, double learningRate, double momentum, double weightDecay)
    : SamedOptimizer(parameters, learningRate)
{
    private readonly Dictionary<int, Tensor> buffers = [];

    /// <summary>The L2 decay added to every gradient.</summary>
    public double WeightDecay => weightDecay;

    protected override void Update(int index, Parameter parameter, Tensor grad)
    {
        using var wd = weightDecay.ToScalar();
        using var m = momentum.ToScalar();
        using var negativeLr = (-LearningRate).ToScalar();
        var direction = weightDecay != 0 ? grad.add(parameter, wd) : grad;
        if (momentum != 0)
        {
            if (buffers.TryGetValue(index, out var buffer))
                buffer.mul_(m).add_(direction);
            else
                buffers[index] = buffer = direction.clone().detach().DetachFromDisposeScope();
            direction = buffer;
        }
        parameter.add_(direction, negativeLr);
    }

    public override IReadOnlyDictionary<string, Tensor> State(int index) => buffers.TryGetValue(index, out var buffer)
        ? new Dictionary<string, Tensor> { ["momentum_buffer"] = buffer }
        : new Dictionary<string, Tensor>();

    public override void LoadState(int index, IReadOnlyDictionary<string, Tensor> loaded, string source)
    {
        if (buffers.Remove(index, out var old))
            old.Dispose();
        if (loaded.TryGetValue("momentum_buffer", out var buffer))
            buffers[index] = Copy(buffer, Parameters[index], source, "momentum_buffer");
    }

    protected override void Dispose(bool disposing)
    {
        foreach (var buffer in buffers.Values)
            buffer.Dispose();
        buffers.Clear();
    }
}
