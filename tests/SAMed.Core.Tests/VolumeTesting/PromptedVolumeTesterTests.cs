using SAMed.Data;
using SAMed.Inference;
using SAMed.Tests.Inference;
using SAMed.VolumeTesting;

namespace SAMed.Tests.VolumeTesting;

/// <summary>MedSAM's evaluation of a promptable model: every labelled slice and class segmented from its ground-truth prompt.</summary>
public class PromptedVolumeTesterTests
{
    [Theory]
    [InlineData(EvaluationPrompt.Box)]
    [InlineData(EvaluationPrompt.Point)]
    public void EachSliceAndClassIsSegmentedFromItsGroundTruthPromptAndALaterClassWins(EvaluationPrompt prompt)
    {
        // 20 labelled slices: more than SlicesPerCollection, so the garbage is collected between slices.
        var prepared = TestFiles.Volume("case0001", depth: 20);
        var volume = StoredVolume.FromPrepared(prepared, 3);
        using var model = PromptableModel.Load(new ModelLoadOptions { ModelType = "tiny", ImageSize = 32, Seed = 5 }, PixelNorm.Sam);
        Assert.True(volume.Depth > PromptedVolumeTester.SlicesPerCollection);

        var predicted = new PromptedVolumeTester(model, new VolumeTestOptions { NumClasses = 3 }, prompt).PredictVolume(volume);

        // Slice by slice, the classes present in ascending order, each mask painted over the ones before.
        int h = volume.Height, w = volume.Width, plane = volume.SliceSize;
        var expected = new byte[volume.Labels.Length];
        for (int z = 0; z < volume.Depth; z++)
        {
            var truth = volume.Labels.AsSpan(z * plane, plane).ToArray();
            using var embedding = model.EmbedSlice(volume.ImagePlanes(z)[0]);
            foreach (byte c in truth.Where(v => v > 0).Distinct().Order())
            {
                var target = truth.Select(v => v == c).ToArray();
                SlicePrompt slicePrompt;
                if (prompt == EvaluationPrompt.Box)
                {
                    var (x0, y0, x1, y1) = PromptSampler.Bounds(target, h, w)!.Value;
                    slicePrompt = new SlicePrompt([], (x0, y0, x1, y1));
                }
                else
                {
                    var (x, y, label) = PromptSampler.CentralPoint(target, h, w);
                    slicePrompt = new SlicePrompt([(x, y, label)], null);
                }
                var mask = model.Segment(embedding, (h, w), slicePrompt).Mask;
                for (int i = 0; i < plane; i++)
                    if (mask[i / w, i % w])
                        expected[z * plane + i] = c;
            }
        }
        Assert.Equal(expected, predicted);
        Assert.True(predicted.Distinct().Count() >= 2, "the prompts should leave some labels");
    }
}
