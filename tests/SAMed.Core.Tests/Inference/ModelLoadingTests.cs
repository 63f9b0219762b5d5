using SAMed.Adaptation;
using SAMed.Checkpoints;
using SAMed.Diagnostics;
using SAMed.Inference;
using SAMed.Lora;
using SAMed.Modeling;
using SAMed.Tests.Reference;
using SAMed.Tests.Training;
using TorchSharp;

namespace SAMed.Tests.Inference;

/// <summary>
/// Model configuration and checkpoint problems are clear errors naming the file. Runs alone: some tests seed
/// libtorch's global generator and build the same model twice.
/// </summary>
[Collection(TorchRngCollection.Name)]
public class ModelLoadingTests
{
    [Fact]
    public void MissingCheckpointsAreNamed()
    {
        string missing = Path.Combine(TestFiles.TempDirectory(), "nope.pth");
        var tiny = new ModelLoadOptions { ModelType = "tiny", ImageSize = 32, NumClasses = 3 };
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => SegmentationModel.Load(tiny with { SamCheckpoint = missing })).Message);
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => SegmentationModel.Load(tiny with { LoraCheckpoint = missing })).Message);
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => SegmentationModel.Load(new ModelLoadOptions { Checkpoint = missing })).Message);
    }

    [Theory]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void TruncatedLoraCheckpointIsNamed(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        string truncated = Path.Combine(TestFiles.TempDirectory(), "epoch_159.pth");
        var bytes = File.ReadAllBytes(reference.LoraCheckpointPath);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var options = new ModelLoadOptions { ModelType = "tiny", ImageSize = 64, LoraCheckpoint = truncated };
        var error = Assert.Throws<InvalidDataException>(() => SegmentationModel.Load(options));
        Assert.Contains(truncated, error.Message);
    }

    [Theory]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void RankAndClassesAreReadFromTheLoraFile(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        var contents = CheckpointContents.Read(reference.LoraCheckpointPath);
        Assert.Equal(Strategies.Lora, contents.Strategy);
        Assert.Equal(reference.LoraRank, contents.Rank);
        Assert.Equal(reference.Model.NumClasses, contents.NumClasses);
        Assert.Equal(reference.Model.EncoderEmbedDim, contents.EncoderWidth);
        Assert.Equal(reference.Model.EncoderDepth, contents.EncoderDepth);

        // Asking for another rank is one sentence naming both sides.
        var options = new ModelLoadOptions { ImageSize = 32, LoraCheckpoint = reference.LoraCheckpointPath, Rank = reference.LoraRank + 1 };
        var error = Assert.Throws<ArgumentException>(() => SegmentationModel.Load(options));
        Assert.Contains($"{reference.LoraCheckpointPath}: this checkpoint is lora rank {reference.LoraRank}", error.Message);
        Assert.Contains($"not rank {reference.LoraRank + 1} as --rank asks", error.Message);
    }

    [Fact]
    public void TinyRunsAreRebuiltFromTheirSeedAndLoraFile()
    {
        // As the trainer does: seed, build the tiny SAM (its frozen encoder stays random), wrap it in LoRA, train, save.
        string directory = TestFiles.TempDirectory();
        torch.manual_seed(77);
        using var trained = new LoraSam(new Sam(SamConfig.Tiny(32, 3)), 4);
        using (torch.no_grad())
        {
            foreach (var (_, parameter) in trained.TrainableParameters())
                parameter.add_(torch.randn_like(parameter) * 0.05);
        }
        string loraPath = Path.Combine(directory, "epoch_4.pth");
        trained.SaveCheckpoint(loraPath);
        string runConfig = Path.Combine(directory, "config.json");
        File.WriteAllText(runConfig, """{ "vit_name": "tiny", "img_size": 32, "num_classes": 3, "rank": 4, "seed": 77, "batch_size": 2 }""");

        using var input = torch.rand(2, 3, 32, 32);
        using var noGrad = torch.no_grad();
        trained.eval();
        using var want = trained.Forward(input, true, 32);
        foreach (var options in new[]
        {
            new ModelLoadOptions { ConfigPath = runConfig, LoraCheckpoint = loraPath },
            new ModelLoadOptions { ModelType = "tiny", ImageSize = 32, Seed = 77, LoraCheckpoint = loraPath, MergeLora = true },
        })
        {
            torch.manual_seed(5); // the loader seeds itself
            using var loaded = SegmentationModel.Load(options);
            Assert.Equal(3, loaded.Config.NumClasses);
            Assert.Equal(4, loaded.Config.LoraRank);
            using var got = loaded.Sam.Forward(input, true, 32);
            var difference = (got.masks - want.masks).abs().max().item<float>();
            Assert.True(difference < 1e-4f, $"{options.ConfigPath ?? "tiny"}: masks differ by {difference}");
        }

        using var otherSeed = SegmentationModel.Load(new ModelLoadOptions { ModelType = "tiny", ImageSize = 32, Seed = 78, LoraCheckpoint = loraPath });
        using var differs = otherSeed.Sam.Forward(input, true, 32);
        Assert.True((differs.masks - want.masks).abs().max().item<float>() > 1e-3f, "another seed must give another random encoder");
    }

    [SkippableFact]
    public void AFullFineTuningCheckpointIsOpenedOnceAndLoadsExactlyWhatItHolds()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "file opens are counted with inotify");
        string path = Path.Combine(TestFiles.TempDirectory(), "epoch_3.pth");
        using var trained = ModelFactory.Create(new ModelSpec { Size = "tiny", ImgSize = 32, NumClasses = 3, Strategy = Strategies.Full, Seed = 77 });
        using (torch.no_grad())
        {
            foreach (var (_, parameter) in trained.TrainableParameters())
                parameter.add_(torch.randn_like(parameter) * 0.05);
        }
        trained.SaveCheckpoint(path);
        var want = ModuleStateDict.Ordered(trained.Sam).ToList();

        // With the description written beside it (as training does), and without (its keys and shapes say the model).
        foreach (var (options, described) in new[]
        {
            (new ModelLoadOptions { LoraCheckpoint = path }, true),
            (new ModelLoadOptions { LoraCheckpoint = path, ImageSize = 32 }, false),
        })
        {
            if (!described)
                File.Delete(ModelSpecFile.PathBeside(path));
            using var opens = new FileOpenCounter(path);
            using var loaded = SegmentationModel.Load(options);
            Assert.Equal(1, opens.Opens());
            Assert.Equal(Strategies.Full, loaded.Config.Strategy);
            var got = ModuleStateDict.Ordered(loaded.Sam).ToDictionary(kv => kv.Key, kv => kv.Value);
            Assert.Equal(want.Select(kv => kv.Key), got.Keys);
            foreach (var (name, tensor) in want)
                Assert.True(tensor.equal(got[name]).all().item<bool>(), $"{(described ? "described" : "bare")} checkpoint: {name} differs from the saved tensor");
        }
    }

    [Fact]
    public void PretrainedModelTypesNeedASamCheckpoint()
    {
        var error = Assert.Throws<ArgumentException>(() => SegmentationModel.Load(new ModelLoadOptions { ModelType = "vit_b" }));
        Assert.Contains("SAM checkpoint", error.Message);
        Assert.Throws<ArgumentException>(() => SegmentationModel.Load(new ModelLoadOptions { ModelType = "vit_q" }));
    }

    [Fact]
    public void ConfigurationsRoundTripAndTrainingConfigsAreAccepted()
    {
        string directory = TestFiles.TempDirectory();
        var config = InferenceConfig.ForModel("vit_b", 512, 8, 4) with { SliceAxis = 1, ClassNames = ["a", "b", "c", "d", "e", "f", "g", "h"] };
        string path = Path.Combine(directory, "model.json");
        InferenceConfigFile.Save(config, path);
        var read = InferenceConfigFile.Load(path);
        Assert.Equal(config.Model.GlobalAttnIndexes, read.Model.GlobalAttnIndexes);
        Assert.Equal(config.Model with { GlobalAttnIndexes = read.Model.GlobalAttnIndexes, PixelMean = read.Model.PixelMean, PixelStd = read.Model.PixelStd }, read.Model);
        Assert.Equal(new float[] { 0, 0, 0 }, read.Model.PixelMean);
        Assert.Equal(1, read.SliceAxis);
        Assert.Equal(config.ClassNames, read.ClassNames);

        var training = InferenceConfigFile.Parse("""{ "vit_name": "tiny", "img_size": 64, "num_classes": 2, "rank": 3, "batch_size": 4 }""", "run/config.json");
        Assert.Equal("tiny", training.ModelType);
        Assert.Equal(64, training.ImageSize);
        Assert.Equal(2, training.NumClasses);
        Assert.Equal(3, training.LoraRank);

        var bad = Assert.Throws<InvalidDataException>(() => InferenceConfigFile.Parse("""{ "model": { "image_size": 60, "encoder_embed_dim": 64, "encoder_depth": 2, "encoder_num_heads": 4, "global_attn_indexes": [1] } }""", "bad.json"));
        Assert.Contains("bad.json", bad.Message);
        Assert.Contains("image size 60", bad.Message);
        Assert.Contains("x.json", Assert.Throws<InvalidDataException>(() => InferenceConfigFile.Parse("[1]", "x.json")).Message);
        Assert.IsType<SamConfig>(InferenceConfigFile.Parse("""{ "image_size": 64, "encoder_embed_dim": 64, "encoder_depth": 2, "encoder_num_heads": 4, "global_attn_indexes": [1] }""", "arch.json").Model);
    }
}
