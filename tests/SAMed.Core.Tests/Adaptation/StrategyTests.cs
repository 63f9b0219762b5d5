using SAMed.Adaptation;
using SAMed.Checkpoints;
using SAMed.Inference;
using SAMed.Lora;
using SAMed.Modeling;
using SAMed.Tests.Inference;
using SAMed.Tests.Training;
using SAMed.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Adaptation;

/// <summary>
/// The four strategies built by the factory: what trains, what their checkpoints hold, and that a checkpoint alone
/// says which model it belongs to. Runs alone: the factory seeds libtorch's global generator.
/// </summary>
[Collection(TorchRngCollection.Name)]
public class StrategyTests
{
    private static ModelSpec Tiny(string strategy, int seed = 1234) =>
        new() { Size = "tiny", ImgSize = 32, NumClasses = 3, Strategy = strategy, Rank = 2, Seed = seed };

    [Theory]
    [InlineData("lora")]
    [InlineData("adapter")]
    [InlineData("decoder")]
    [InlineData("full")]
    public void EachStrategyTrainsWhatItSays(string strategy)
    {
        using var model = ModelFactory.Create(Tiny(strategy));
        Assert.Equal(strategy, model.Strategy);
        var trainable = model.TrainableParameters().ToList();
        Assert.All(trainable, t => Assert.True(t.p.requires_grad, $"{t.name} is listed as trainable but frozen"));
        Assert.Equal(model.parameters().Count(p => p.requires_grad), trainable.Count);
        var names = trainable.Select(t => t.name).ToList();
        Assert.Contains(names, n => n.StartsWith("mask_decoder.", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("prompt_encoder.", StringComparison.Ordinal));
        switch (strategy)
        {
            case Strategies.Lora:
                Assert.Equal(4 * 4, names.Count(LoraSam.IsAKey) + names.Count(LoraSam.IsBKey));
                Assert.DoesNotContain(names, n => n.StartsWith("image_encoder.", StringComparison.Ordinal));
                break;
            case Strategies.Adapter:
                Assert.Equal(4 * 2 * 4, names.Count(AdapterSam.IsAdapterKey));
                Assert.All(names.Where(n => n.StartsWith("image_encoder.", StringComparison.Ordinal)), n => Assert.True(AdapterSam.IsAdapterKey(n), n));
                break;
            case Strategies.Decoder:
                Assert.DoesNotContain(names, n => n.StartsWith("image_encoder.", StringComparison.Ordinal) || n.StartsWith("w_", StringComparison.Ordinal));
                break;
            case Strategies.Full:
                Assert.Equal(model.Sam.parameters().Count(), names.Count);
                Assert.Empty(model.FrozenParameters());
                break;
        }
    }

    [Fact]
    public void ZeroAdaptersLeaveSamsBlockUnchanged()
    {
        // Med-SA's block with a zero Space_Adapter bottleneck (identity plus zero) and a zero MLP_Adapter is SAM's block.
        using var plain = ModelFactory.Create(Tiny(Strategies.Decoder));
        using var adapted = ModelFactory.Create(Tiny(Strategies.Adapter));
        using (torch.no_grad())
        {
            foreach (var (name, p) in adapted.TrainableParameters().Where(t => t.name.Contains("D_fc2", StringComparison.Ordinal)))
                p.zero_();
        }
        using var input = torch.rand(2, 3, 32, 32);
        using var noGrad = torch.no_grad();
        plain.eval();
        adapted.eval();
        using var want = plain.Forward(input, true, 32);
        using var got = adapted.Forward(input, true, 32);
        Assert.True((got.masks - want.masks).abs().max().item<float>() < 1e-5f);

        // Non-zero adapters change the embeddings.
        using (torch.no_grad())
        {
            foreach (var (name, p) in adapted.TrainableParameters().Where(t => t.name.Contains("Space_Adapter.D_fc2.weight", StringComparison.Ordinal)))
                p.normal_(0, 0.1);
        }
        using var changed = adapted.Forward(input, true, 32);
        Assert.True((changed.masks - want.masks).abs().max().item<float>() > 1e-4f);
    }

    [Theory]
    [InlineData("lora")]
    [InlineData("adapter")]
    [InlineData("decoder")]
    [InlineData("full")]
    public void CheckpointsRoundTripAndDescribeThemselves(string strategy)
    {
        string directory = TestFiles.TempDirectory();
        string path = Path.Combine(directory, "epoch_3.pth");
        using (var trained = ModelFactory.Create(Tiny(strategy)))
        {
            Perturb(trained);
            trained.SaveCheckpoint(path);
        }
        Assert.True(File.Exists(ModelSpecFile.PathBeside(path)), "the model description is written beside the checkpoint");
        Assert.Equal(Tiny(strategy), ModelSpecFile.FindBeside(path));
        var contents = CheckpointContents.Read(path);
        Assert.Equal(strategy, contents.Strategy);
        Assert.Equal(3, contents.NumClasses);
        Assert.Equal(strategy == Strategies.Lora ? 2 : null, contents.Rank);

        using var saved = ModelFactory.Create(Tiny(strategy), strategyCheckpoint: path);
        using var fresh = ModelFactory.Create(Tiny(strategy, seed: 99));
        fresh.LoadCheckpoint(path);
        var want = saved.CheckpointTensors().ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (key, value) in fresh.CheckpointTensors())
            Assert.True(Same(value, want[key]), $"{key} differs after loading");
    }

    [Fact]
    public void DecoderCheckpointIsSamedsWithoutTheLoraKeysAndFullIsACompleteSam()
    {
        using var lora = ModelFactory.Create(Tiny(Strategies.Lora));
        using var decoder = ModelFactory.Create(Tiny(Strategies.Decoder));
        Assert.Equal(lora.CheckpointTensors().Select(kv => kv.Key).Where(k => !LoraSam.IsAKey(k) && !LoraSam.IsBKey(k)), decoder.CheckpointTensors().Select(kv => kv.Key));

        string path = Path.Combine(TestFiles.TempDirectory(), "full.pth");
        using (var full = ModelFactory.Create(Tiny(Strategies.Full)))
        {
            Perturb(full);
            full.SaveCheckpoint(path);
        }
        // A complete SAM state dict with num_classes + 1 mask tokens: it loads into a plain SAM exactly.
        using var sam = new Sam(Tiny(Strategies.Full).Architecture);
        SamCheckpoint.LoadOfficial(sam, path);
        var file = PthStateDict.Read(path);
        Assert.Equal(ModuleStateDict.Ordered(sam).Select(kv => kv.Key), file.Keys);
        Assert.Equal([4, 32], file["mask_decoder.mask_tokens.weight"].shape);
    }

    [Fact]
    public void ACheckpointOfAnotherStrategyIsNamedWithBothSides()
    {
        string path = Path.Combine(TestFiles.TempDirectory(), "decoder.pth");
        using (var decoder = ModelFactory.Create(Tiny(Strategies.Decoder)))
            decoder.SaveCheckpoint(path);
        using var lora = ModelFactory.Create(Tiny(Strategies.Lora));
        var error = Assert.Throws<InvalidDataException>(() => lora.LoadCheckpoint(path));
        Assert.StartsWith($"{path}: this checkpoint is decoder, 3 classes, but the model is tiny, lora rank 2, 3 classes", error.Message);
    }

    [Fact]
    public void InferenceReadsTheModelFromTheCheckpointAlone()
    {
        string path = Path.Combine(TestFiles.TempDirectory(), "epoch_1.pth");
        using var input = torch.rand(1, 3, 32, 32);
        SamOutput want;
        using (var trained = ModelFactory.Create(Tiny(Strategies.Adapter, seed: 7)))
        {
            Perturb(trained);
            trained.SaveCheckpoint(path);
            trained.eval();
            using var noGrad = torch.no_grad();
            want = trained.Forward(input, true, 32);
        }
        using (want)
        {
            using var loaded = SegmentationModel.Load(new ModelLoadOptions { LoraCheckpoint = path });
            Assert.Equal(("tiny", 32, 3, Strategies.Adapter, 7), (loaded.Config.ModelType, loaded.Config.ImageSize, loaded.Config.NumClasses, loaded.Config.Strategy, loaded.Config.Seed));
            using var noGrad = torch.no_grad();
            using var got = loaded.Sam.Forward(input, true, 32);
            Assert.True((got.masks - want.masks).abs().max().item<float>() < 1e-5f);
        }

        var wrongSize = Assert.Throws<ArgumentException>(() => SegmentationModel.Load(new ModelLoadOptions { LoraCheckpoint = path, ModelType = "vit_b" }));
        Assert.StartsWith($"{path}: this checkpoint is tiny 32, adapter, 3 classes (its epoch_1.json says so), not vit_b as --model asks", wrongSize.Message);
        var wrongClasses = Assert.Throws<ArgumentException>(() => SegmentationModel.Load(new ModelLoadOptions { LoraCheckpoint = path, NumClasses = 8 }));
        Assert.Contains("not 8 classes as --num-classes asks", wrongClasses.Message);
    }

    [Fact]
    public void SamedsOwnLoraCheckpointsAreReadFromTheirShapes()
    {
        // No description beside it (as SAMed's released epoch_159.pth): strategy, rank, classes and size from the tensors.
        string path = Path.Combine(TestFiles.TempDirectory(), "epoch_159.pth");
        using (var trained = ModelFactory.Create(Tiny(Strategies.Lora)))
            PthStateDict.Write(path, trained.CheckpointTensors());
        var contents = CheckpointContents.Read(path);
        Assert.Equal("lora rank 2, for tiny encoder, 3 classes", contents.ToString());
        using var loaded = SegmentationModel.Load(new ModelLoadOptions { LoraCheckpoint = path, ImageSize = 32 });
        Assert.Equal(("tiny", 3, 2), (loaded.Config.ModelType, loaded.Config.NumClasses, loaded.Config.LoraRank));
        var error = Assert.Throws<ArgumentException>(() => SegmentationModel.Load(new ModelLoadOptions { LoraCheckpoint = path, ModelType = "vit_l" }));
        Assert.Contains("not vit_l as --model asks; leave --model out or pass --model tiny", error.Message);
    }

    [Fact]
    public void InfoCoversEverySizeAndStrategy()
    {
        foreach (string size in SamBuilder.ModelTypes)
        {
            foreach (string strategy in Strategies.Names)
            {
                var info = ModelInfo.Of(new ModelSpec { Size = size, ImgSize = size == "tiny" ? 64 : 512, Strategy = strategy });
                Assert.True(info.TrainableParameters > 0 && info.TrainableParameters <= info.TotalParameters, $"{size} {strategy}");
                Assert.True(info.CheckpointBytes >= 4 * info.TrainableParameters, $"{size} {strategy}: the checkpoint holds every trainable tensor");
            }
        }
        var adapter = ModelInfo.Of(new ModelSpec { Strategy = Strategies.Adapter });
        var decoder = ModelInfo.Of(new ModelSpec { Strategy = Strategies.Decoder });
        // Med-SA's adapters at vit_b: 12 blocks x 2 adapters x (768 x 192 x 2 weights + 192 + 768 biases).
        Assert.Equal(12 * 2 * (768 * 192 * 2 + 192 + 768), adapter.TrainableParameters - decoder.TrainableParameters);
    }

    [Theory]
    [InlineData("adapter")]
    [InlineData("decoder")]
    [InlineData("full")]
    public void OneTrainingStepMovesOnlyTheTrainableTensors(string strategy)
    {
        using var model = ModelFactory.Create(Tiny(strategy));
        model.train();
        var frozenBefore = model.FrozenParameters().Select(p => p.detach().clone()).ToList();
        var trainable = model.TrainableParameters().ToList();
        var before = trainable.Select(t => t.p.detach().clone()).ToList();
        using var optimizer = new AdamWOptimizer(trainable.Select(t => t.p), 0.01, 0.9, 0.999, 1e-8, 0.1);
        var step = new TrainingStep(x => model.ForwardLowRes(x, true).LowResLogits, new SamedLoss(4, 0.8), optimizer);
        using var images = torch.rand(2, 3, 32, 32);
        using var labels = torch.randint(0, 4, [2, 32, 32], dtype: ScalarType.Int64);
        step.Run(images, labels);
        foreach (var (was, now) in frozenBefore.Zip(model.FrozenParameters()))
            Assert.True(Same(was, now), "a frozen tensor moved");
        Assert.Contains(before.Zip(trainable), pair => !Same(pair.First, pair.Second.p));
        if (strategy != Strategies.Decoder)
            Assert.Contains(trainable.Zip(before), pair => pair.First.name.StartsWith("image_encoder.", StringComparison.Ordinal) && !Same(pair.Second, pair.First.p));
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && (a == b).all().item<bool>();

    private static void Perturb(AdaptedSam model)
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, parameter) in model.TrainableParameters())
            parameter.add_(torch.randn_like(parameter) * 0.05);
    }
}
