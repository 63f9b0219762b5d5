using SAMed.Checkpoints;
using SAMed.Diagnostics;
using SAMed.Modeling;
using SAMed.Tests.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Checkpoints;

public sealed class SamCheckpointTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("samed-sam-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Theory]
    [Trait("Category", "Parity")]
    [MemberData(nameof(ParityCases.Cases), MemberType = typeof(ParityCases))]
    public void LoadsAsSamedLoadFromDoesForAnotherInputSize(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        using var scope = torch.NewDisposeScope();
        using var sam = new Sam(reference.Model);
        var before = sam.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        SamCheckpoint.LoadOfficial(sam, reference.SamCheckpointPath);
        var file = PthStateDict.Read(reference.SamCheckpointPath);
        var state = sam.state_dict();
        int tokens = reference.Model.ImageEmbeddingSize;

        Assert.Equal(reference.PretrainedImageSize / reference.Model.PatchSize, file["image_encoder.pos_embed"].shape[1]);
        Assert.True(Identical(SamCheckpoint.ResizePosEmbed(file["image_encoder.pos_embed"], tokens), state["image_encoder.pos_embed"]));
        for (int block = 0; block < reference.Model.EncoderDepth; block++)
        {
            foreach (string axis in new[] { "h", "w" })
            {
                string key = $"image_encoder.blocks.{block}.attn.rel_pos_{axis}";
                var expected = reference.Model.IsGlobalAttention(block)
                    ? SamCheckpoint.ResizeRelPos(file[key], 2 * tokens - 1)
                    : file[key];
                Assert.True(Identical(expected, state[key]), key);
            }
        }
        foreach (var (key, value) in state)
        {
            bool skipped = key.Contains("mask_tokens") || key.Contains("output_hypernetworks_mlps") || key.Contains("iou_prediction_head");
            if (skipped)
                Assert.True(Identical(before[key], value), $"{key} must keep its initial value, as in SAMed's load_from");
            else if (!key.Contains("pos_embed") && !key.Contains("rel_pos"))
                Assert.True(Identical(file[key], value), key);
        }
    }

    [Fact]
    public void CheckpointOfTheSameArchitectureLoadsWhole()
    {
        using var scope = torch.NewDisposeScope();
        var config = TestModels.Small();
        using var source = new Sam(config);
        string path = Path.Combine(_temp, "whole.pth");
        PthStateDict.Write(path, ModuleStateDict.Ordered(source));

        using var target = new Sam(config);
        SamCheckpoint.LoadOfficial(target, path);
        var want = source.state_dict();
        foreach (var (key, value) in target.state_dict())
            Assert.True(Identical(want[key], value), key);
    }

    [Theory]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void CheckpointOfAnotherModelSizeIsAClearErrorAndChangesNothing(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        using var scope = torch.NewDisposeScope();
        var other = reference.Model with
        {
            EncoderEmbedDim = reference.Model.EncoderEmbedDim * 2,
            EncoderDepth = reference.Model.EncoderDepth + 1,
        };
        using var sam = new Sam(other);
        var before = sam.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        var error = Assert.Throws<InvalidDataException>(() => SamCheckpoint.LoadOfficial(sam, reference.SamCheckpointPath));
        Assert.Contains(reference.SamCheckpointPath, error.Message);
        Assert.Contains("image_encoder.patch_embed.proj.weight", error.Message);
        foreach (var (key, value) in sam.state_dict())
            Assert.True(Identical(before[key], value), $"{key} changed although the load failed");
    }

    [Theory]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void LoraFileGivenAsSamCheckpointIsAClearError(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        using var sam = new Sam(reference.Model);
        var error = Assert.Throws<InvalidDataException>(() => SamCheckpoint.LoadOfficial(sam, reference.LoraCheckpointPath));
        Assert.Contains(reference.LoraCheckpointPath, error.Message);
        Assert.Contains("missing image_encoder.pos_embed", error.Message);
    }

    [Fact]
    public void MissingAndTruncatedCheckpointsAreClearErrors()
    {
        using var sam = new Sam(TestModels.Small());
        string missing = Path.Combine(_temp, "sam_vit_b_01ec64.pth");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => SamCheckpoint.LoadOfficial(sam, missing)).Message);

        string whole = Path.Combine(_temp, "whole.pth");
        PthStateDict.Write(whole, ModuleStateDict.Ordered(sam));
        byte[] bytes = File.ReadAllBytes(whole);
        string truncated = Path.Combine(_temp, "truncated.pth");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length * 2 / 3)]);
        Assert.Contains(truncated, Assert.ThrowsAny<InvalidDataException>(() => SamCheckpoint.LoadOfficial(sam, truncated)).Message);
    }

    [Fact]
    public void RelPosResizeIsBilinearWithoutAlignedCorners()
    {
        using var scope = torch.NewDisposeScope();
        // Rows 0, 1, 2 resized to 5 rows: source rows (i + 0.5) * 3/5 - 0.5, clamped at the edges.
        var relPos = torch.tensor(new float[] { 0, 10, 1, 11, 2, 12 }).reshape(3, 2);
        var resized = SamCheckpoint.ResizeRelPos(relPos, 5);
        var expected = torch.tensor(new float[] { 0, 10, 0.4f, 10.4f, 1, 11, 1.6f, 11.6f, 2, 12 }).reshape(5, 2);
        Assert.True(resized.allclose(expected, rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void PosEmbedResizeKeepsChannelsLast()
    {
        using var scope = torch.NewDisposeScope();
        var posEmbed = torch.arange(2 * 2 * 3, dtype: ScalarType.Float32).reshape(1, 2, 2, 3);
        var resized = SamCheckpoint.ResizePosEmbed(posEmbed, 4);
        Assert.Equal([1L, 4, 4, 3], resized.shape);
        // Corners of a bilinear upsampling without aligned corners repeat the source corners.
        Assert.True(resized[0, 0, 0].allclose(posEmbed[0, 0, 0]));
        Assert.True(resized[0, 3, 3].allclose(posEmbed[0, 1, 1]));
    }

    private static bool Identical(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && (a.numel() == 0 || (a.detach() != b.detach()).sum().item<long>() == 0);
}
