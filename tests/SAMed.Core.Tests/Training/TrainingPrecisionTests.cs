using SAMed.Adaptation;
using SAMed.Checkpoints;
using SAMed.IO;
using SAMed.Lora;
using SAMed.Modeling;
using SAMed.Tests.Reference;
using SAMed.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace SAMed.Tests.Training;

/// <summary>bfloat16 training: the frozen encoder in bfloat16, everything trained (and its optimizer state) in float32.</summary>
[Collection(TorchRngCollection.Name)]
public sealed class TrainingPrecisionTests(ITestOutputHelper output) : IDisposable
{
    private const int Classes = 3;
    private readonly string root = Path.Combine(Path.GetTempPath(), $"samed-precision-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(root))
            Directory.Delete(root, recursive: true);
    }

    /// <summary>The small SAM with LoRA; B is drawn non-zero (SAMed starts it at zero) so every LoRA matrix gets a gradient.</summary>
    private static LoraSam Model(string precision)
    {
        torch.manual_seed(21);
        var model = new LoraSam(new Sam(TestModels.Small(numClasses: Classes - 1)), 4);
        using (torch.no_grad())
        {
            foreach (var (name, parameter) in model.TrainableParameters().Where(p => p.name.StartsWith("w_b_", StringComparison.Ordinal)))
                parameter.normal_(0, 0.05);
        }
        TrainingPrecision.Apply(model, precision);
        model.train();
        return model;
    }

    private static (Tensor Images, Tensor Labels) Batch(LoraSam model)
    {
        var generator = new torch.Generator(5);
        int size = model.Sam.Config.ImageSize;
        int lowRes = model.Sam.Config.ImageEmbeddingSize * 4;
        var images = torch.rand([2, 3, size, size], generator: generator) * 255;
        var labels = torch.randint(0, Classes, [2, lowRes, lowRes], generator: generator, dtype: ScalarType.Int64);
        return (images, labels);
    }

    private static TrainingStep Step(LoraSam model, SamedOptimizer optimizer)
    {
        int size = model.Sam.Config.ImageSize;
        return new TrainingStep(x => model.Forward(x, multimaskOutput: true, size).low_res_logits, new SamedLoss(Classes, 0.8), optimizer);
    }

    private static AdamWOptimizer AdamW(LoraSam model, double lr = 0.005) =>
        new(model.TrainableParameters().Select(p => p.p), lr, 0.9, 0.999, 1e-8, 0.1);

    /// <summary>
    /// Same weights, same batch. Tolerance 2^-8 of the float32 loss: bfloat16 keeps 8 significant bits, so the
    /// encoder's embeddings carry relative errors of the order of 2^-8, and the loss (a smooth function of them,
    /// computed in float32 by the float32 decoder) moves by that order at most. Measured: 3.3e-5 relative.
    /// Cross-entropy and Dice that are not different at all would mean the encoder did not compute in bfloat16 (the
    /// weighted sum alone can round to the same float: it did here once).
    /// </summary>
    [Fact]
    public void Bfloat16StepLossIsCloseToTheFloat32Loss()
    {
        using var scope = torch.NewDisposeScope();
        StepLosses Losses(string precision)
        {
            using var model = Model(precision);
            using var optimizer = AdamW(model);
            var (images, labels) = Batch(model);
            return Step(model, optimizer).Backward(images, labels);
        }
        var float32 = Losses(TrainingPrecision.Float32);
        var bfloat16 = Losses(TrainingPrecision.Bfloat16);
        output.WriteLine($"loss float32 {float32.Loss:R}, bfloat16 {bfloat16.Loss:R}, relative difference {Math.Abs(bfloat16.Loss - float32.Loss) / float32.Loss:E3}");
        output.WriteLine($"cross-entropy {float32.CrossEntropy:R} / {bfloat16.CrossEntropy:R}, Dice {float32.Dice:R} / {bfloat16.Dice:R}");
        Assert.True(double.IsFinite(bfloat16.Loss), $"bfloat16 loss {bfloat16.Loss}");
        Assert.True(bfloat16.CrossEntropy != float32.CrossEntropy || bfloat16.Dice != float32.Dice, "bfloat16 and float32 give the same cross-entropy and Dice");
        Assert.True(Math.Abs(bfloat16.Loss - float32.Loss) <= Math.Pow(2, -8) * float32.Loss, $"bfloat16 loss {bfloat16.Loss:R} vs float32 {float32.Loss:R}");
    }

    [Fact]
    public void EncoderIsBfloat16WithoutGradientsAndTrainedTensorsStayFloat32WithFloat32Gradients()
    {
        using var scope = torch.NewDisposeScope();
        using var model = Model(TrainingPrecision.Bfloat16);
        using var optimizer = AdamW(model);
        var (images, labels) = Batch(model);
        Step(model, optimizer).Run(images, labels);

        var encoder = model.Sam.ImageEncoder.named_parameters().ToList();
        Assert.NotEmpty(encoder);
        Assert.All(encoder, p => Assert.Equal(ScalarType.BFloat16, p.parameter.dtype));
        Assert.All(encoder, p => Assert.False(p.parameter.requires_grad, $"{p.name} requires grad"));
        Assert.All(encoder, p => Assert.True(p.parameter.grad is null, $"{p.name} got a gradient"));

        var trainable = model.TrainableParameters().ToList();
        Assert.Equal(4 * model.Sam.ImageEncoder.Blocks.Count, trainable.Count(p => p.name.StartsWith("w_", StringComparison.Ordinal)));
        Assert.Contains(trainable, p => p.name.StartsWith("mask_decoder.", StringComparison.Ordinal));
        foreach (var (name, parameter) in trainable)
        {
            Assert.True(parameter.dtype == ScalarType.Float32, $"{name} is {parameter.dtype}");
            Assert.True(parameter.requires_grad, $"{name} is not trainable");
            if (name.StartsWith("w_", StringComparison.Ordinal) || name.StartsWith("mask_decoder.output_hypernetworks", StringComparison.Ordinal))
            {
                Assert.True(parameter.grad is not null, $"{name} got no gradient");
                Assert.True(parameter.grad!.dtype == ScalarType.Float32, $"{name}'s gradient is {parameter.grad.dtype}");
                Assert.True(parameter.grad.abs().sum().item<float>() > 0, $"{name}'s gradient is zero");
            }
        }
        // AdamW's moments live beside the float32 parameters in float32.
        for (int i = 0; i < optimizer.Parameters.Count; i++)
        {
            foreach (var (key, state) in optimizer.State(i))
                Assert.True(state.dtype is ScalarType.Float32 or ScalarType.Float64 || state.numel() == 1, $"AdamW state {key} of parameter {i} is {state.dtype}");
        }
        Assert.Contains(Enumerable.Range(0, optimizer.Parameters.Count), i => optimizer.State(i).Values.Any(s => s.dtype == ScalarType.Float32 && s.numel() > 1));
    }

    [Fact]
    public void Bfloat16StepsLowerTheLossOnAFixedBatch()
    {
        List<double> Losses(string precision)
        {
            using var scope = torch.NewDisposeScope();
            using var model = Model(precision);
            using var optimizer = AdamW(model, lr: 0.02);
            var (images, labels) = Batch(model);
            var step = Step(model, optimizer);
            return Enumerable.Range(0, 8).Select(_ => step.Run(images, labels).Loss).ToList();
        }
        var bfloat16 = Losses(TrainingPrecision.Bfloat16);
        var float32 = Losses(TrainingPrecision.Float32);
        string Text(List<double> l) => string.Join(", ", l.Select(v => v.ToString("F5", System.Globalization.CultureInfo.InvariantCulture)));
        output.WriteLine($"bfloat16 {Text(bfloat16)}\nfloat32  {Text(float32)}");
        Assert.All(bfloat16, l => Assert.True(double.IsFinite(l), $"loss {l}"));
        for (int i = 1; i < bfloat16.Count; i++)
            Assert.True(bfloat16[i] < bfloat16[i - 1], $"step {i + 1} raised the loss: {Text(bfloat16)}");
        Assert.True(bfloat16[^1] < 0.95 * bfloat16[0], $"loss fell only from {bfloat16[0]:F5} to {bfloat16[^1]:F5}");
    }

    /// <summary>A short bfloat16 run of the trainer writes a float32 SAMed LoRA checkpoint that a float32 model loads.</summary>
    [Fact]
    public void CheckpointOfABfloat16RunLoadsIntoAFloat32Model()
    {
        var config = TrainPresets.Smoke with
        {
            Precision = TrainingPrecision.Bfloat16,
            MaxSteps = 3,
            SyntheticTrainVolumes = 1,
            SyntheticTestVolumes = 0,
            SyntheticSlices = 4,
            SaveInterval = 100,
        };
        var result = Trainer.Train(config, new TrainerOptions
        {
            Output = TextWriter.Null,
            Interactive = false,
            RunDirectory = Path.Combine(root, "bf16"),
            Evaluate = false,
        });
        Assert.Equal(3, result.Iterations);
        Assert.All(result.Steps, s => Assert.True(double.IsFinite(s.Loss), $"step {s.Iteration} loss {s.Loss}"));

        var file = PthStateDict.Read(result.LoraCheckpoint);
        try
        {
            Assert.All(file, kv => Assert.True(kv.Value.dtype == ScalarType.Float32, $"{kv.Key} is {kv.Value.dtype} in the checkpoint"));
        }
        finally
        {
            foreach (var tensor in file.Values)
                tensor.Dispose();
        }

        using var float32 = TrainingModel.Create(config with { Precision = TrainingPrecision.Float32 }, torch.CPU);
        Assert.All(float32.Sam.ImageEncoder.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        var untrained = float32.TrainableParameters().ToDictionary(p => p.name, p => p.p.data<float>().ToArray());
        float32.LoadCheckpoint(result.LoraCheckpoint);
        var saved = Npz.Read(Path.Combine(result.RunDirectory, ResumeCheckpoint.Find(result.RunDirectory)!.TensorsFile));
        foreach (var (name, parameter) in float32.TrainableParameters())
            Assert.Equal(saved[$"param/{name}"].ToFloat(), parameter.data<float>().ToArray());
        Assert.Contains(float32.TrainableParameters(), p => !p.p.data<float>().ToArray().SequenceEqual(untrained[p.name]));

        // Resuming rebuilds the bfloat16 encoder and must find the frozen checksum of the interrupted run.
        var resumed = Trainer.Resume(result.RunDirectory, new TrainerOptions { Output = TextWriter.Null, Interactive = false, Evaluate = false });
        Assert.Equal(3, resumed.Iterations);
    }

    [Fact]
    public void TrainingModelAppliesThePrecisionAfterLoadingWeights()
    {
        string checkpoint = Path.Combine(root, "warm.pth");
        Directory.CreateDirectory(root);
        var config = TrainPresets.Smoke;
        using (var source = TrainingModel.Create(config, torch.CPU))
        {
            using (torch.no_grad())
            {
                foreach (var (_, parameter) in source.TrainableParameters())
                    parameter.add_(0.25);
            }
            source.SaveCheckpoint(checkpoint);
        }
        using var model = TrainingModel.Create(config with { Precision = TrainingPrecision.Bfloat16, LoraCheckpoint = checkpoint }, torch.CPU);
        using var reference = TrainingModel.Create(config with { LoraCheckpoint = checkpoint }, torch.CPU);
        Assert.All(model.Sam.ImageEncoder.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        // The encoder is the float32 one rounded to bfloat16; the warm-started LoRA and decoder are exact float32.
        foreach (var ((name, low), (_, high)) in model.Sam.ImageEncoder.named_parameters().Zip(reference.Sam.ImageEncoder.named_parameters()))
            Assert.True(low.to_type(ScalarType.Float32).data<float>().ToArray().SequenceEqual(high.to_type(ScalarType.BFloat16).to_type(ScalarType.Float32).data<float>().ToArray()), $"{name} is not the float32 weight rounded");
        foreach (var ((name, mine), (_, theirs)) in model.TrainableParameters().Zip(reference.TrainableParameters()))
        {
            Assert.Equal(ScalarType.Float32, mine.dtype);
            Assert.Equal(theirs.data<float>().ToArray(), mine.data<float>().ToArray());
        }
    }
}
