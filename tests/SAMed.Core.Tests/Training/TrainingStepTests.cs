using SAMed.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Tests.Training;

[Collection(TorchRngCollection.Name)]
public class TrainingStepTests
{
    /// <summary>A toy segmenter: 1x1 conv to class logits at quarter resolution, plus a tensor no loss reaches.</summary>
    private sealed class Toy : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d head;
        private readonly Parameter unused;

        public Toy(int classes, ScalarType dtype) : base("toy")
        {
            head = nn.Conv2d(3, classes, 1, dtype: dtype);
            unused = nn.Parameter(torch.ones(4, dtype: dtype));
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => nn.functional.avg_pool2d(head.forward(input), 4);

        public IReadOnlyList<(string, Parameter)> Trainable => named_parameters().ToList();
    }

    /// <summary>zero_grad, backward, then the gradients (as doubles) that optimizer.step is about to use, then step.</summary>
    private static Dictionary<string, double[]> StepReturningGradients(nn.Module model, SamedOptimizer optimizer, TrainingStep step, Tensor images, Tensor labels)
    {
        optimizer.ZeroGrad();
        step.Backward(images, labels);
        var grads = model.named_parameters().Where(p => p.parameter.grad is not null)
            .ToDictionary(p => p.name, p => p.parameter.grad!.data<double>().ToArray());
        optimizer.Step();
        return grads;
    }

    private static (Tensor Images, Tensor Labels) Batch(int batch, ScalarType dtype)
    {
        torch.manual_seed(11);
        return (torch.randn(batch, 3, 16, 16, dtype: dtype), torch.randint(0, 3, [batch, 4, 4], dtype: ScalarType.Int64));
    }

    [Fact]
    public void AccumulationGivesTheWholeBatchGradientAndLoss()
    {
        // Five samples: two steps split 3 + 2, three split 2 + 2 + 1 (a last partial batch), five split 1 each.
        var (images, labels) = Batch(5, ScalarType.Float64);
        var loss = new SamedLoss(3, 0.8);
        Dictionary<string, double[]>? reference = null;
        StepLosses? referenceLosses = null;
        foreach (int accumulation in new[] { 1, 2, 3, 5 })
        {
            torch.manual_seed(5);
            using var model = new Toy(3, ScalarType.Float64);
            using var optimizer = new AdamWOptimizer(model.parameters(), 0.01, 0.9, 0.999, 1e-8, 0.1);
            var step = new TrainingStep(model.forward, loss, optimizer, accumulation);
            var losses = step.Backward(images, labels);
            var grads = model.named_parameters().Where(p => p.parameter.grad is not null)
                .ToDictionary(p => p.name, p => p.parameter.grad!.data<double>().ToArray());
            Assert.DoesNotContain("unused", grads.Keys);
            if (reference is null)
            {
                reference = grads;
                referenceLosses = losses;
                continue;
            }
            Assert.Equal(reference.Keys.Order(), grads.Keys.Order());
            foreach (var (name, values) in grads)
            {
                for (int i = 0; i < values.Length; i++)
                    Assert.True(Math.Abs(values[i] - reference[name][i]) <= 1e-12 + 1e-9 * Math.Abs(reference[name][i]), $"{name}[{i}] with accumulation {accumulation}");
            }
            Assert.Equal(referenceLosses!.Loss, losses.Loss, 6);
            Assert.Equal(referenceLosses.CrossEntropy, losses.CrossEntropy, 6);
            Assert.Equal(referenceLosses.Dice, losses.Dice, 6);
        }
    }

    [Fact]
    public void AdamWIsPyTorchsDecoupledAlgorithmAndSkipsTensorsWithoutGradient()
    {
        var (images, labels) = Batch(2, ScalarType.Float64);
        torch.manual_seed(5);
        using var model = new Toy(3, ScalarType.Float64);
        var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<double>().ToArray());
        const double lr = 0.01, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        using var optimizer = OptimizerFactory.Create(new TrainConfig { Betas = [b1, b2], Eps = eps, WeightDecay = wd }, model.parameters(), lr);
        var step = new TrainingStep(model.forward, new SamedLoss(3, 0.8), optimizer);

        var history = new List<Dictionary<string, double[]>>();
        var m = before.ToDictionary(kv => kv.Key, kv => new double[kv.Value.Length]);
        var v = before.ToDictionary(kv => kv.Key, kv => new double[kv.Value.Length]);
        var expected = before.ToDictionary(kv => kv.Key, kv => (double[])kv.Value.Clone());
        for (int t = 1; t <= 3; t++)
        {
            var grads = StepReturningGradients(model, optimizer, step, images, labels);
            foreach (var (name, g) in grads)
            {
                var p = expected[name];
                for (int i = 0; i < p.Length; i++)
                {
                    p[i] *= 1 - lr * wd;
                    m[name][i] = b1 * m[name][i] + (1 - b1) * g[i];
                    v[name][i] = b2 * v[name][i] + (1 - b2) * g[i] * g[i];
                    double denom = Math.Sqrt(v[name][i]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps;
                    p[i] -= lr / (1 - Math.Pow(b1, t)) * m[name][i] / denom;
                }
            }
        }
        foreach (var (name, parameter) in model.named_parameters())
        {
            var got = parameter.data<double>().ToArray();
            for (int i = 0; i < got.Length; i++)
                Assert.True(Math.Abs(got[i] - expected[name][i]) < 1e-12, $"{name}[{i}]: {got[i]} vs {expected[name][i]}");
        }
        Assert.Equal(before["unused"], model.named_parameters().Single(p => p.name == "unused").parameter.data<double>().ToArray());
    }

    [Fact]
    public void SgdIsPyTorchsMomentumAlgorithm()
    {
        var (images, labels) = Batch(2, ScalarType.Float64);
        torch.manual_seed(5);
        using var model = new Toy(3, ScalarType.Float64);
        var expected = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<double>().ToArray());
        const double lr = 0.05, wd = 1e-4, momentum = 0.9;
        using var optimizer = OptimizerFactory.Create(new TrainConfig { Optimizer = "sgd", Momentum = momentum, WeightDecay = wd }, model.parameters(), lr);
        var step = new TrainingStep(model.forward, new SamedLoss(3, 0.8), optimizer);
        var buffers = new Dictionary<string, double[]>();
        for (int t = 0; t < 3; t++)
        {
            var grads = StepReturningGradients(model, optimizer, step, images, labels);
            foreach (var (name, g) in grads)
            {
                var p = expected[name];
                var d = g.Select((gi, i) => gi + wd * p[i]).ToArray();
                buffers[name] = buffers.TryGetValue(name, out var b) ? b.Select((bi, i) => momentum * bi + d[i]).ToArray() : d;
                for (int i = 0; i < p.Length; i++)
                    p[i] -= lr * buffers[name][i];
            }
        }
        foreach (var (name, parameter) in model.named_parameters())
        {
            var got = parameter.data<double>().ToArray();
            for (int i = 0; i < got.Length; i++)
                Assert.True(Math.Abs(got[i] - expected[name][i]) < 1e-12, $"{name}[{i}]: {got[i]} vs {expected[name][i]}");
        }
    }

    [Theory]
    [InlineData("adamw")]
    [InlineData("sgd")]
    public void ResumeCheckpointContinuesExactlyAsAnUninterruptedRun(string optimizerName)
    {
        var (images, labels) = Batch(2, ScalarType.Float32);
        var schedule = new LearningRateSchedule(0.01, true, 2, 10);
        var config = new TrainConfig { Optimizer = optimizerName, WeightDecay = optimizerName == "sgd" ? 1e-4 : 0.1 };
        Dictionary<string, float[]> Train(int steps, string? saveAfterTo, string? resumeFrom)
        {
            torch.manual_seed(5);
            using var model = new Toy(3, ScalarType.Float32);
            var trainable = model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
            using var optimizer = OptimizerFactory.Create(config, trainable.Select(t => t.parameter), schedule.Initial);
            var step = new TrainingStep(model.forward, new SamedLoss(3, 0.8), optimizer);
            long start = 0;
            if (resumeFrom is not null)
            {
                var state = ResumeCheckpoint.Find(resumeFrom)!;
                ResumeCheckpoint.Restore(resumeFrom, state, trainable, optimizer);
                start = state.Iteration;
            }
            for (long it = start; it < steps; it++)
            {
                step.Run(images, labels);
                optimizer.LearningRate = schedule.AfterStep(it);
                if (saveAfterTo is not null && it + 1 == steps)
                    ResumeCheckpoint.Save(saveAfterTo, new ResumeState { Iteration = it + 1, Lr = schedule.AfterStep(it) }, trainable, optimizer);
            }
            return trainable.ToDictionary(t => t.Item1, t => t.Item2.data<float>().ToArray());
        }

        string dir = Path.Combine(Path.GetTempPath(), $"samed-resume-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var uninterrupted = Train(6, null, null);
            Train(3, dir, null);
            Assert.True(File.Exists(Path.Combine(dir, "resume.json")));
            Assert.Single(Directory.GetFiles(dir, "resume_*.npz"));
            var resumed = Train(6, null, dir);
            var fresh = Train(0, null, null);
            foreach (var (name, values) in uninterrupted)
            {
                Assert.Equal(values, resumed[name]);
                if (name != "unused")
                    Assert.NotEqual(values, fresh[name]);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
