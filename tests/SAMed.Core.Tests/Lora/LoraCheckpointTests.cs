using SAMed.Adaptation;
using SAMed.Checkpoints;
using SAMed.Diagnostics;
using SAMed.Lora;
using SAMed.Modeling;
using SAMed.Tests.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Lora;

public sealed class LoraCheckpointTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("samed-lora-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Theory]
    [Trait("Category", "Parity")]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void SavedCheckpointReadsBackIdenticalWithTheReferenceKeysAndShapes(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        using var model = reference.CreateLoraModel();
        string path = Path.Combine(_temp, "lora.pth");
        model.SaveCheckpoint(path);

        var written = PthStateDict.Read(path);
        var original = PthStateDict.Read(reference.LoraCheckpointPath);
        try
        {
            Assert.Equal(original.Keys.Order(StringComparer.Ordinal), written.Keys.Order(StringComparer.Ordinal));
            foreach (var (key, want) in original)
            {
                Assert.Equal(want.shape, written[key].shape);
                Assert.True(Identical(want, written[key]), $"{key} changed on the way through our model");
            }
            foreach (var (key, live) in model.CheckpointTensors())
                Assert.True(Identical(live.detach(), written[key]), $"{key} differs from the model's tensor");

            // Loading our own file into a fresh model gives the same tensors again.
            var sam = new Sam(reference.Model);
            SamCheckpoint.LoadOfficial(sam, reference.SamCheckpointPath);
            using var again = new LoraSam(sam, reference.LoraRank);
            again.LoadCheckpoint(path);
            foreach (var ((key, a), (_, b)) in model.CheckpointTensors().Zip(again.CheckpointTensors()))
                Assert.True(Identical(a.detach(), b.detach()), key);
        }
        finally
        {
            foreach (var t in written.Values.Concat(original.Values))
                t.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void CheckpointOfAnotherRankIsAClearError(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        var sam = new Sam(reference.Model);
        using var model = new LoraSam(sam, reference.LoraRank + 1);
        var before = model.CheckpointTensors().Select(kv => kv.Value.detach().clone()).ToList();
        var error = Assert.Throws<InvalidDataException>(() => model.LoadCheckpoint(reference.LoraCheckpointPath));
        Assert.Contains(reference.LoraCheckpointPath, error.Message);
        Assert.Contains($"this checkpoint is lora rank {reference.LoraRank}", error.Message);
        Assert.Contains($"lora rank {reference.LoraRank + 1}", error.Message);
        foreach (var (was, (key, now)) in before.Zip(model.CheckpointTensors()))
            Assert.True(Identical(was, now.detach()), $"{key} was modified by a failed load");
    }

    [Theory]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void CheckpointOfAnotherClassCountIsAClearError(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        var sam = new Sam(reference.Model with { NumClasses = reference.Model.NumClasses + 2 });
        using var model = new LoraSam(sam, reference.LoraRank);
        var error = Assert.Throws<InvalidDataException>(() => model.LoadCheckpoint(reference.LoraCheckpointPath));
        Assert.Contains(reference.LoraCheckpointPath, error.Message);
        Assert.Contains("mask_decoder.mask_tokens.weight", error.Message);
    }

    [Fact]
    public void MissingCheckpointIsAClearError()
    {
        using var model = new LoraSam(new Sam(TestModels.Small()), rank: 2);
        string path = Path.Combine(_temp, "missing.pth");
        var error = Assert.Throws<FileNotFoundException>(() => model.LoadCheckpoint(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void AdapterChangesOnlyTheQAndVSlices()
    {
        using var scope = torch.NewDisposeScope();
        var config = TestModels.Small();
        var sam = new Sam(config);
        using var model = new LoraSam(sam, rank: 2);
        var attention = sam.ImageEncoder.Blocks[0].Attn;
        var x = torch.randn(1, 3, 3, config.EncoderEmbedDim);

        // B starts at zero: the adapter is the identity until trained.
        var plain = attention.Qkv.forward(x);
        var adapted = attention.QkvAdapter!.Project(x, attention.Qkv.weight!, attention.Qkv.bias);
        Assert.True(Identical(plain, adapted));

        using (torch.no_grad())
        {
            foreach (var (name, p) in model.TrainableParameters().Where(t => t.name.StartsWith("w_b_", StringComparison.Ordinal)))
                p.fill_(0.5);
        }
        int dim = config.EncoderEmbedDim;
        adapted = attention.QkvAdapter!.Project(x, attention.Qkv.weight!, attention.Qkv.bias);
        var delta = adapted - plain;
        Assert.True(delta[.., .., .., ..dim].abs().max().item<float>() > 0);
        Assert.Equal(0f, delta[.., .., .., dim..(2 * dim)].abs().max().item<float>());
        Assert.True(delta[.., .., .., (2 * dim)..].abs().max().item<float>() > 0);
    }

    [Fact]
    public void InitialisationIsKaimingUniformAAndZeroB()
    {
        var config = TestModels.Small();
        using var model = new LoraSam(new Sam(config), rank: 4);
        var trainable = model.TrainableParameters().ToDictionary(t => t.name, t => t.p);
        Assert.Equal(2 * config.EncoderDepth, trainable.Keys.Count(k => k.StartsWith("w_a_", StringComparison.Ordinal)));
        double bound = 1.0 / Math.Sqrt(config.EncoderEmbedDim); // kaiming_uniform(a=sqrt(5)) on [r, dim]
        foreach (var (name, p) in trainable.Where(t => t.Key.StartsWith("w_a_", StringComparison.Ordinal)))
        {
            Assert.Equal([4L, config.EncoderEmbedDim], p.shape);
            Assert.True(p.abs().max().item<float>() <= bound + 1e-7, name);
            Assert.True(p.abs().max().item<float>() > 0, name);
        }
        foreach (var (name, p) in trainable.Where(t => t.Key.StartsWith("w_b_", StringComparison.Ordinal)))
            Assert.Equal(0f, p.abs().max().item<float>());
    }

    private static bool Identical(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && (a.numel() == 0 || (a != b).sum().item<long>() == 0);
}

public class ModelInfoTests
{
    [Fact]
    public void VitBAsSamedTrainsIt()
    {
        var info = ModelInfo.Of("vit_b", imageSize: 512, rank: 4, numClasses: 8);
        Assert.Equal(4_913_621L, info.TrainableParameters);
        // Official vit_b (93,735,472 at 1024 with 3 mask outputs) adapted to 512 input and 9 mask tokens, plus LoRA.
        Assert.Equal(92_192_469L, info.TotalParameters);
        // Every trainable tensor plus the prompt encoder's Gaussian matrix buffer (2 x 128), in float32.
        Assert.Equal(4L * (4_913_621 + 2 * 128), info.CheckpointBytes);
    }

    [Fact]
    public void OfficialVitBParameterCountPlusLora()
    {
        var info = ModelInfo.Of("vit_b", imageSize: 1024, rank: 4, numClasses: 3);
        Assert.Equal(93_735_472L + 12 * 2 * (4 * 768 * 2), info.TotalParameters);
    }

    [Fact]
    public void BadSizesAreClearErrors()
    {
        Assert.Contains("multiple of the patch size", Assert.Throws<ArgumentException>(() => ModelInfo.Of("vit_b", 500, 4, 8)).Message);
        Assert.Contains("rank 0", Assert.Throws<ArgumentException>(() => ModelInfo.Of("vit_b", 512, 0, 8)).Message);
    }
}
