using SAMed.Diagnostics;
using SAMed.Tests.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Modeling;

/// <summary>The forward pass of every reference case against SAMed's PyTorch outputs, on SAMED_TEST_DEVICE.</summary>
public class ForwardParityTests
{
    [SkippableTheory]
    [Trait("Category", "Parity")]
    [MemberData(nameof(ParityCases.Cases), MemberType = typeof(ParityCases))]
    public void ForwardMatchesSamedReference(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        using var scope = torch.NewDisposeScope();
        var device = TestDevice.Get();
        using var model = reference.CreateModel(device);
        var input = reference.Tensor("input").to(device);
        using var trace = model.ForwardTrace(input, multimaskOutput: true, reference.Model.ImageSize);
        var tolerance = reference.ForwardTolerance;

        // Every case has the embeddings and low-res logits; SAMed's LoRA cases also the intermediate tensors.
        ParityCases.AssertClose("image_embeddings", trace.image_embeddings, reference.Tensor("image_embeddings"), tolerance);
        ParityCases.AssertClose("low_res_logits", trace.Output.low_res_logits, reference.Tensor("low_res_logits"), tolerance);
        if (reference.Has("dense_pe"))
            ParityCases.AssertClose("dense_pe", trace.dense_pe, reference.Tensor("dense_pe"), tolerance);
        if (reference.Has("dense_embeddings"))
            ParityCases.AssertClose("dense_embeddings", trace.dense_embeddings, reference.Tensor("dense_embeddings"), tolerance);
        if (reference.Has("masks"))
            ParityCases.AssertClose("masks", trace.Output.masks, reference.Tensor("masks"), tolerance);
        if (reference.Has("iou_predictions"))
            ParityCases.AssertClose("iou_predictions", trace.Output.iou_predictions, reference.Tensor("iou_predictions"), tolerance);

        // Prediction: argmax over classes, equal wherever the reference's two largest logits are not a near tie.
        // Without the reference's masks, the near ties are judged on ours (they match the reference's within the
        // forward tolerance, so the margin is widened by it).
        bool referenceMasks = reference.Has("masks");
        var wantMasks = referenceMasks ? reference.Tensor("masks") : trace.Output.masks.detach().cpu();
        var wantPrediction = reference.Tensor("prediction");
        var prediction = trace.Output.masks.argmax(1).cpu();
        var top2 = wantMasks.topk(2, dim: 1).values;
        double margin = referenceMasks ? 1e-4 : 1e-4 + 2 * (tolerance.Atol + tolerance.Rtol * wantMasks.abs().max().item<float>());
        var decisive = (top2[.., 0] - top2[.., 1]) > margin;
        Assert.True(decisive.sum().item<long>() > 0, "every reference pixel is a near tie; the prediction check would be empty");
        if (referenceMasks)
        {
            Assert.True((wantMasks.argmax(1) != wantPrediction).logical_and(decisive).sum().item<long>() == 0,
                "prediction.npy disagrees with argmax of masks.npy on decisive pixels");
        }
        long mismatches = (prediction != wantPrediction).logical_and(decisive).sum().item<long>();
        Assert.True(mismatches == 0, $"prediction differs from the reference on {mismatches} decisive pixels");

        Assert.Equal(reference.TrainableParameters, model.TrainableParameterCount());
    }
}
