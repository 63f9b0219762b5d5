using SAMed.Checkpoints;
using SAMed.Diagnostics;
using SAMed.Modeling;
using SAMed.Tests.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Modeling;

/// <summary>The promptable forward of every "prompts" case against Meta's segment-anything Sam.forward, on SAMED_TEST_DEVICE.</summary>
public class PromptableParityTests
{
    [SkippableTheory]
    [Trait("Category", "Parity")]
    [MemberData(nameof(PromptCase.Cases), MemberType = typeof(PromptCase))]
    public void ForwardMatchesSegmentAnything(string caseDirectory)
    {
        var reference = PromptCase.Load(caseDirectory);
        var tolerance = reference.ForwardTolerance;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var device = TestDevice.Get();
        using var sam = LoadSam(reference, device);
        var model = new PromptableSam(sam);

        var images = reference.Images.Select(i => reference.Tensor(i.Image).to(device)).ToList();
        foreach (var (image, info) in images.Zip(reference.Images))
            Assert.Equal(new long[] { 3, info.InputSize.H, info.InputSize.W }, image.shape);
        // Sam.forward stacks the preprocessed (padded) images, so images of different sizes share one encoder batch.
        var batch = torch.stack([.. images.Select(sam.Preprocess)]);
        var embeddings = sam.ImageEncoder.forward(batch);
        ParityCases.AssertClose("image_embeddings", embeddings, reference.Tensor("image_embeddings"), tolerance);

        foreach (var info in reference.Images)
        {
            int i = info.Index;
            var prompts = Prompts(reference, info, device);
            var embedding = embeddings[i..(i + 1)];
            var (sparse, dense) = model.EmbedPrompts(prompts);
            ParityCases.AssertClose($"sparse_{i}", sparse, reference.Tensor($"sparse_{i}"), tolerance);
            ParityCases.AssertClose($"dense_{i}", dense, reference.Tensor($"dense_{i}"), tolerance);
            foreach (bool multimask in new[] { true, false })
            {
                string tag = $"{(multimask ? "multi" : "single")}_{i}";
                using var output = model.Decode(embedding, prompts, multimask);
                ParityCases.AssertClose($"low_res_logits_{tag}", output.LowResLogits, reference.Tensor($"low_res_logits_{tag}"), tolerance);
                ParityCases.AssertClose($"iou_{tag}", output.IouPredictions, reference.Tensor($"iou_{tag}"), tolerance);
                var logits = model.Postprocess(output.LowResLogits, info.InputSize, info.OriginalSize);
                var wantLogits = reference.Tensor($"masks_logits_{tag}");
                ParityCases.AssertClose($"masks_logits_{tag}", logits, wantLogits, tolerance);
                AssertMasksEqual(tag, PromptableSam.Threshold(logits), reference.Tensor($"masks_{tag}"), wantLogits);
            }
        }
    }

    /// <summary>The end-to-end forward (one call per image) equals the step-by-step one above.</summary>
    [SkippableTheory]
    [Trait("Category", "Parity")]
    [MemberData(nameof(PromptCase.Cases), MemberType = typeof(PromptCase))]
    public void SegmentReturnsThresholdedMasksAtOriginalSize(string caseDirectory)
    {
        var reference = PromptCase.Load(caseDirectory);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var device = TestDevice.Get();
        using var sam = LoadSam(reference, device);
        var model = new PromptableSam(sam);
        foreach (var info in reference.Images)
        {
            var image = reference.Tensor(info.Image).unsqueeze(0).to(device);
            var embedding = model.EmbedImages(image);
            using var output = model.Decode(embedding, Prompts(reference, info, device), multimaskOutput: true);
            var masks = PromptableSam.Threshold(model.Postprocess(output.LowResLogits, info.InputSize, info.OriginalSize));
            var want = reference.Tensor($"masks_multi_{info.Index}");
            AssertMasksEqual($"multi_{info.Index}", masks, want, reference.Tensor($"masks_logits_multi_{info.Index}"));
        }
    }

    /// <summary>The case's SAM, loaded completely from its checkpoint, in eval mode on the test device.</summary>
    private static Sam LoadSam(PromptCase reference, Device device)
    {
        var sam = new Sam(reference.Model);
        SamCheckpoint.LoadComplete(sam, reference.SamCheckpointPath);
        sam.to(device);
        sam.eval();
        return sam;
    }

    private static SamPrompts Prompts(PromptCase reference, PromptCaseImage info, Device device) => new(
        info.PointCoords is null ? null : new PointPrompts(reference.Tensor(info.PointCoords).to(device), reference.Tensor(info.PointLabels!).to(device)),
        info.Boxes is null ? null : reference.Tensor(info.Boxes).to(device),
        info.MaskInputs is null ? null : reference.Tensor(info.MaskInputs).to(device));

    /// <summary>Thresholded masks equal wherever the reference logit is farther than 1e-4 from 0.</summary>
    private static void AssertMasksEqual(string tag, Tensor got, Tensor want, Tensor wantLogits)
    {
        got = got.cpu();
        Assert.Equal(want.shape, got.shape);
        var decisive = wantLogits.abs() > 1e-4;
        Assert.True(decisive.sum().item<long>() > 0, $"masks_{tag}: every reference logit is within 1e-4 of 0");
        Assert.True((want.to_type(ScalarType.Bool) != (wantLogits > 0)).logical_and(decisive).sum().item<long>() == 0,
            $"masks_{tag}.npy disagrees with masks_logits_{tag}.npy > 0");
        long mismatches = (got != want.to_type(ScalarType.Bool)).logical_and(decisive).sum().item<long>();
        Assert.True(mismatches == 0, $"masks_{tag}: {mismatches} decisive pixels differ from segment-anything's");
    }
}
