using System.Globalization;
using SAMed.Checkpoints;
using SAMed.Lora;
using SAMed.Modeling;
using SAMed.Tests.Reference;
using TorchSharp;

namespace SAMed.Tests.Modeling;

/// <summary>A model built like an official checkpoint has exactly its keys and shapes.</summary>
public class StateDictKeysTests
{
    private static readonly torch.Device Meta = new(DeviceType.META);

    public static TheoryData<string> ModelTypes() => ["vit_b", "vit_l", "vit_h"];

    [Theory]
    [MemberData(nameof(ModelTypes))]
    public void StateDictEqualsOfficialCheckpoint(string modelType)
    {
        var expected = ReadKeys(SharedPaths.Reference("keys", $"sam_{modelType}_state_dict.txt"));
        using var sam = SamBuilder.Create(modelType, imageSize: 1024, numClasses: 3, device: Meta);
        var actual = sam.state_dict().Select(kv => (kv.Key, Shape: string.Join(", ", kv.Value.shape))).ToList();

        var missing = expected.Except(actual).ToList();
        var extra = actual.Except(expected).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{modelType}: missing {string.Join("; ", missing.Take(5))} | unexpected {string.Join("; ", extra.Take(5))}");
        Assert.Equal(expected.Count, actual.Count);

        // In PyTorch's order too (parameters, then buffers, then children, module by module).
        Assert.Equal(expected.Select(e => e.Key), ModuleStateDict.Ordered(sam).Select(kv => kv.Key));
    }

    [Fact]
    public void MetaDeviceBuildHasNoStorage()
    {
        using var sam = SamBuilder.Create("vit_b", device: Meta);
        Assert.All(sam.parameters(), p => Assert.Equal(DeviceType.META, p.device_type));
    }

    [Fact]
    public void TrainableParameterCountMatchesSamed()
    {
        // SAMed's vit_b, LoRA rank 4, 8 organ classes, 512 x 512 input.
        using var sam = SamBuilder.Create("vit_b", imageSize: 512, numClasses: 8, device: Meta);
        using var lora = new LoraSam(sam, rank: 4);
        Assert.Equal(4_913_621L, lora.TrainableParameterCount());
        long requiresGrad = lora.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
        Assert.Equal(4_913_621L, requiresGrad);
        Assert.All(sam.ImageEncoder.parameters(), p => Assert.False(p.requires_grad));
    }

    [Theory]
    [InlineData("vit_b", 768, 12, 12, new[] { 2, 5, 8, 11 })]
    [InlineData("vit_l", 1024, 24, 16, new[] { 5, 11, 17, 23 })]
    [InlineData("vit_h", 1280, 32, 16, new[] { 7, 15, 23, 31 })]
    public void RegistryUsesSamHyperparameters(string modelType, int embedDim, int depth, int heads, int[] globalBlocks)
    {
        var config = SamBuilder.Config(modelType, imageSize: 512, numClasses: 8);
        Assert.Equal((embedDim, depth, heads), (config.EncoderEmbedDim, config.EncoderDepth, config.EncoderNumHeads));
        Assert.Equal(globalBlocks, config.GlobalAttnIndexes);
        Assert.Equal((14, 16, 256, 16), (config.WindowSize, config.PatchSize, config.PromptEmbedDim, config.MaskInChans));
        Assert.Equal((2, 8, 2048, 3, 256), (config.DecoderDepth, config.DecoderHeads, config.DecoderMlpDim, config.IouHeadDepth, config.IouHeadHiddenDim));
        Assert.Equal((4.0, true, true, 1e-6), (config.MlpRatio, config.QkvBias, config.UseRelPos, config.EncoderLayerNormEps));
        Assert.Equal([123.675f, 116.28f, 103.53f], config.PixelMean);
        Assert.Equal([58.395f, 57.12f, 57.375f], config.PixelStd);
        Assert.Equal((512, 8, 9, 32), (config.ImageSize, config.NumClasses, config.NumMaskTokens, config.ImageEmbeddingSize));
        Assert.Equal(SamConfig.VitH(), SamBuilder.Config("default"));
        Assert.NotEqual(SamConfig.VitH(), SamConfig.VitH() with { GlobalAttnIndexes = [7, 15, 23, 30] });
    }

    [Fact]
    public void UnknownModelTypeIsAClearError()
    {
        var error = Assert.Throws<ArgumentException>(() => SamBuilder.Config("vit_x"));
        Assert.Contains("vit_x", error.Message);
    }

    private static List<(string Key, string Shape)> ReadKeys(string path)
    {
        var keys = new List<(string, string)>();
        foreach (string line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line))
                continue;
            string[] parts = line.Split('\t');
            string shape = string.Join(", ", parts[1].Trim('[', ']').Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(s => long.Parse(s, CultureInfo.InvariantCulture)));
            keys.Add((parts[0], shape));
        }
        return keys;
    }
}
