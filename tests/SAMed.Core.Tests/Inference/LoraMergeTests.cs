using SAMed.Checkpoints;
using SAMed.Diagnostics;
using SAMed.Inference;
using SAMed.Lora;
using SAMed.Tests.Reference;
using TorchSharp;

namespace SAMed.Tests.Inference;

/// <summary>Merging LoRA into qkv and exporting the merged model keep SAMed's forward pass on every parity case.</summary>
public class LoraMergeTests
{
    [Theory]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void MergedForwardMatchesUnmergedAndReference(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var input = reference.Tensor("input");
        int size = reference.Model.ImageSize;

        using var unmerged = reference.CreateLoraModel();
        using var expected = unmerged.Forward(input, multimaskOutput: true, size);

        using var lora = reference.CreateLoraModel();
        var qkvBefore = lora.Sam.ImageEncoder.Blocks[0].Attn.Qkv.weight!.clone();
        var sam = LoraMerge.Merge(lora);
        Assert.All(sam.ImageEncoder.Blocks, block => Assert.Null(block.Attn.QkvAdapter));
        Assert.True(qkvBefore.sub(sam.ImageEncoder.Blocks[0].Attn.Qkv.weight!).abs().max().item<float>() > 0,
            "merging changed no qkv weight; the case's LoRA B matrices would be zero");
        using var merged = sam.Forward(input, multimaskOutput: true, size);

        ParityCases.AssertClose("merged masks vs unmerged", merged.masks, expected.masks, reference.ForwardTolerance);
        ParityCases.AssertClose("merged low_res_logits vs unmerged", merged.low_res_logits, expected.low_res_logits, reference.ForwardTolerance);
        ParityCases.AssertClose("merged iou_predictions vs unmerged", merged.iou_predictions, expected.iou_predictions, reference.ForwardTolerance);
        ParityCases.AssertClose("merged masks vs reference", merged.masks, reference.Tensor("masks"), reference.ForwardTolerance);
        Assert.Throws<InvalidOperationException>(() => LoraMerge.Merge(lora));
    }

    [Theory]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void ExportedCheckpointLoadsAloneAndMatches(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        string directory = TestFiles.TempDirectory();
        string configPath = Path.Combine(directory, "arch.json");
        InferenceConfigFile.Save(new InferenceConfig { ModelType = "custom", Model = reference.Model, LoraRank = reference.LoraRank }, configPath);
        var options = new ModelLoadOptions
        {
            ConfigPath = configPath,
            SamCheckpoint = reference.SamCheckpointPath,
            LoraCheckpoint = reference.LoraCheckpointPath,
        };

        using var scope = torch.NewDisposeScope();
        var input = reference.Tensor("input");
        using var live = SegmentationModel.Load(options);
        Assert.True(live.HasLiveLora);
        Assert.Equal(reference.LoraRank, live.Config.LoraRank);
        using var merged = SegmentationModel.Load(options with { MergeLora = true });
        Assert.True(merged.Merged);
        Assert.False(merged.HasLiveLora);

        string checkpoint = Path.Combine(directory, "merged.pth");
        string writtenConfig = ModelExport.Export(merged, checkpoint);
        Assert.Equal(Path.Combine(directory, "merged.json"), writtenConfig);
        Assert.Throws<InvalidOperationException>(() => ModelExport.Export(live, Path.Combine(directory, "live.pth")));

        var exported = PthStateDict.Read(checkpoint);
        var official = PthStateDict.Read(reference.SamCheckpointPath);
        Assert.Equal(official.Keys, exported.Keys); // same keys in the same (PyTorch) order

        using var loaded = SegmentationModel.Load(new ModelLoadOptions { Checkpoint = checkpoint });
        Assert.True(loaded.Merged);
        Assert.Equal(reference.Model.ImageSize, loaded.Config.ImageSize);
        using var noGrad = torch.no_grad();
        using var want = live.Sam.Forward(input, true, reference.Model.ImageSize);
        using var got = loaded.Sam.Forward(input, true, reference.Model.ImageSize);
        ParityCases.AssertClose("exported masks vs live LoRA", got.masks, want.masks, reference.ForwardTolerance);
        ParityCases.AssertClose("exported masks vs reference", got.masks, reference.Tensor("masks"), reference.ForwardTolerance);

        var labels = loaded.SegmentBatch(input[.., 0]);
        Assert.Equal(new long[] { input.shape[0], input.shape[2], input.shape[3] }, labels.shape);
    }
}
