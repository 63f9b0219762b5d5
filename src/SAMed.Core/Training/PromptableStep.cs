using SAMed.Data;
using SAMed.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Training;

/// <summary>
/// One promptable step (MedSAM's and SAM-Med2D's recipe): the batch's slices are embedded at once; on each slice
/// every class present is a binary target whose prompt is drawn from its label at the image size (box or points, as
/// configured; mixed chooses per slice). The prompts of one kind go through the decoder together, each with its
/// slice's embedding, and are scored on the low-res label with <see cref="PromptableLoss"/>.
/// </summary>
public sealed class PromptableStep(PromptableSam model, TrainConfig config, SamedOptimizer optimizer, Device device) : IBatchStep
{
    /// <summary>
    /// The prompts' random stream for the step after <paramref name="iteration"/> steps: a function of the seed and
    /// the iteration only (DataLoaderRandom's keys (2, iteration), beside the loader's (0, epoch) and (1, epoch,
    /// position)), the same in every process, so a run resumed by a new process draws the prompts it would have.
    /// </summary>
    public static Random PromptRandom(int seed, long iteration) =>
        new((int)(DataLoaderRandom.Derive(unchecked((ulong)seed), 2, iteration).NextUInt64() >> 33));

    /// <summary>
    /// zero_grad, backward, optimizer.step. A batch without a labelled class has no loss: the weights (and the
    /// optimizer's state) stay as they are and its losses are <see cref="PromptableLosses.None"/>.
    /// </summary>
    public StepLosses Run(Batch batch, long iteration)
    {
        optimizer.ZeroGrad();
        var losses = Backward(batch, PromptRandom(config.Seed, iteration));
        if (losses is null)
            return PromptableLosses.None;
        optimizer.Step();
        return losses;
    }

    /// <summary>Gradients of the step's loss are left in the parameters; null when no slice holds a labelled class.</summary>
    public PromptableLosses? Backward(Batch batch, Random random)
    {
        using var scope = NewDisposeScope();
        var embeddings = model.EmbedImages(batch.Image.to(device) * 255.0f);
        var groups = SamplePrompts(batch.Label, random).Where(g => g.Count > 0).ToList();
        if (groups.Count == 0)
            return null;
        var lowResLabels = batch.LowResLabel.to(device);
        var terms = groups.Select(group => GroupTerms(embeddings, lowResLabels, group)).ToList();
        var iouLoss = torch.cat(terms.Select(t => t.IouSquaredError).ToList()).mean();
        var loss = torch.cat(terms.Select(t => t.Segmentation).ToList()).mean() + iouLoss;
        loss.backward();
        return new PromptableLosses(loss.ToDouble(), torch.cat(terms.Select(t => t.Bce).ToList()).mean().ToDouble(),
            torch.cat(terms.Select(t => t.Dice).ToList()).mean().ToDouble(), iouLoss.ToDouble());
    }

    /// <summary>(slice, class, prompt) per target of the labels [B, H, W], in two groups: boxes and points.</summary>
    private List<(int Slice, int Class, SampledPrompt Prompt)>[] SamplePrompts(Tensor label, Random random)
    {
        int b = (int)label.shape[0], height = (int)label.shape[1], width = (int)label.shape[2];
        var labels = label.data<long>().ToArray();
        int shift = PromptSampler.BoxShift(config.ImgSize, config.BoxShift);
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
        return groups;
    }

    /// <summary>One group's prompts through the decoder with their slices' embeddings, scored against their classes' low-res targets.</summary>
    private (Tensor Segmentation, Tensor Dice, Tensor Bce, Tensor IouSquaredError) GroupTerms(Tensor embeddings, Tensor lowResLabels,
        List<(int Slice, int Class, SampledPrompt Prompt)> group)
    {
        var slices = torch.tensor(group.Select(g => (long)g.Slice).ToArray(), device: device);
        var (logits, iou) = Decode(embeddings.index_select(0, slices), [.. group.Select(g => g.Prompt)]);
        var classIds = torch.tensor(group.Select(g => (long)g.Class).ToArray(), device: device).view(-1, 1, 1, 1);
        var targets = lowResLabels.index_select(0, slices).unsqueeze(1).eq(classIds);
        return PromptableLoss.PerSample(logits, iou, targets);
    }

    /// <summary>Prompts of one kind (so they share a point count and output count), each with its own embedding, through the decoder.</summary>
    private (Tensor Logits, Tensor Iou) Decode(Tensor embeddings, IReadOnlyList<SampledPrompt> prompts)
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
