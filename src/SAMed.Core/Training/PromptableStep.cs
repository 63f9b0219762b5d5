using SAMed.Data;
using SAMed.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Training;

/// <summary>
/// Forward and backward of one promptable step: the batch's slices are embedded at once; on each slice every class
/// present is a binary target whose prompt is drawn from its label at the image size (box or points, as configured;
/// mixed chooses per slice). The prompts of one kind go through the decoder together, each with its slice's
/// embedding, and are scored on the low-res label.
/// </summary>
public sealed class PromptableStep(PromptableSam model, TrainConfig config)
{
    /// <summary>
    /// The prompts' random stream for the step after <paramref name="iteration"/> steps: a function of the seed and
    /// the iteration only (DataLoaderRandom's keys (2, iteration), beside the loader's (0, epoch) and (1, epoch,
    /// position)), the same in every process, so a run resumed by a new process draws the prompts it would have.
    /// </summary>
    public static Random PromptRandom(int seed, long iteration) =>
        new((int)(DataLoaderRandom.Derive(unchecked((ulong)seed), 2, iteration).NextUInt64() >> 33));

    /// <summary>Gradients of the step's loss are left in the parameters; null when no slice holds a labelled class.</summary>
    public PromptableLosses? Backward(Batch batch, Device device, Random random)
    {
        using var scope = NewDisposeScope();
        int b = batch.Count, height = (int)batch.Label.shape[1], width = (int)batch.Label.shape[2];
        var labels = batch.Label.data<long>().ToArray();
        var images = batch.Image.to(device) * 255.0f;
        var lowResLabels = batch.LowResLabel.to(device);
        var embeddings = model.EmbedImages(images);
        int shift = PromptSampler.BoxShift(config.ImgSize, config.BoxShift);

        // (slice, class, prompt) per target, in two groups: boxes and points.
        var groups = new[] { new List<(int Slice, int Class, SampledPrompt Prompt)>(), new List<(int Slice, int Class, SampledPrompt Prompt)>() };
        int plane = height * width;
        var target = new bool[plane];
        for (int i = 0; i < b; i++)
        {
            var slice = labels.AsSpan(i * plane, plane);
            var classes = new SortedSet<int>();
            foreach (long v in slice)
                if (v > 0)
                    classes.Add((int)v);
            bool box = config.PromptKind == "box" || (config.PromptKind == "mixed" && random.Next(2) == 0);
            foreach (int c in classes)
            {
                for (int p = 0; p < plane; p++)
                    target[p] = slice[p] == c;
                var prompt = box
                    ? new SampledPrompt(PromptSampler.Box(target, height, width, shift, random), [])
                    : new SampledPrompt(null, PromptSampler.Points(target, height, width, config.PromptPoints, config.PromptNegativePoints, random));
                groups[box ? 0 : 1].Add((i, c, prompt));
            }
        }

        var segmentation = new List<Tensor>();
        var dice = new List<Tensor>();
        var bce = new List<Tensor>();
        var iouErrors = new List<Tensor>();
        foreach (var group in groups.Where(g => g.Count > 0))
        {
            var slices = torch.tensor(group.Select(g => (long)g.Slice).ToArray(), device: device);
            var (logits, iou) = Decode(embeddings.index_select(0, slices), [.. group.Select(g => g.Prompt)], device);
            var classIds = torch.tensor(group.Select(g => (long)g.Class).ToArray(), device: device).view(-1, 1, 1, 1);
            var targets = lowResLabels.index_select(0, slices).unsqueeze(1).eq(classIds);
            var terms = PromptableLoss.PerSample(logits, iou, targets);
            segmentation.Add(terms.Segmentation);
            dice.Add(terms.Dice);
            bce.Add(terms.Bce);
            iouErrors.Add(terms.IouSquaredError);
        }
        if (segmentation.Count == 0)
            return null;
        var segmentationLoss = torch.cat(segmentation).mean();
        var iouLoss = torch.cat(iouErrors).mean();
        var loss = segmentationLoss + iouLoss;
        loss.backward();
        return new PromptableLosses(loss.ToDouble(), torch.cat(bce).mean().ToDouble(), torch.cat(dice).mean().ToDouble(), iouLoss.ToDouble());
    }

    /// <summary>Prompts of one kind (so they share a point count and output count), each with its own embedding, through the decoder.</summary>
    private (Tensor Logits, Tensor Iou) Decode(Tensor embeddings, IReadOnlyList<SampledPrompt> prompts, Device device)
    {
        int n = prompts.Count;
        SamPrompts samPrompts;
        if (prompts[0].Box is not null)
        {
            var boxes = prompts.SelectMany(p => new[] { p.Box!.Value.X0, p.Box.Value.Y0, p.Box.Value.X1, p.Box.Value.Y1 }).ToArray();
            samPrompts = new SamPrompts(Boxes: torch.tensor(boxes, [n, 4], device: device));
        }
        else
        {
            int k = prompts.Max(p => p.Points.Count);
            var coords = new float[n * k * 2];
            var labels = new float[n * k];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < k; j++)
                {
                    // Fewer points than k (no background pixels for negatives): padding points, label -1.
                    bool real = j < prompts[i].Points.Count;
                    var (x, y, label) = real ? prompts[i].Points[j] : (0f, 0f, -1);
                    coords[(i * k + j) * 2] = x;
                    coords[(i * k + j) * 2 + 1] = y;
                    labels[i * k + j] = label;
                }
            samPrompts = new SamPrompts(new PointPrompts(torch.tensor(coords, [n, k, 2], device: device), torch.tensor(labels, [n, k], device: device)));
        }
        var output = model.Decode(embeddings, samPrompts, prompts[0].Multimask);
        return (output.LowResLogits, output.IouPredictions);
    }
}
