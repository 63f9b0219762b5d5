using SAMed.Modeling;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SAMed.Checkpoints;

/// <summary>Loads official SAM checkpoints into a <see cref="Sam"/> of any input size, as SAMed's build_sam does.</summary>
public static class SamCheckpoint
{
    private static readonly string[] SkippedWhenAdapting = ["mask_tokens", "output_hypernetworks_mlps", "iou_prediction_head"];

    /// <summary>
    /// Loads a SAM state dict (e.g. sam_vit_b_01ec64.pth). If it matches the model exactly it is loaded whole;
    /// otherwise as SAMed's load_from: mask_tokens, output_hypernetworks_mlps and iou_prediction_head keep their
    /// initial values, image_encoder.pos_embed is resized bilinearly to the model's token grid, and the global
    /// attention blocks' rel_pos_h/rel_pos_w to 2 * tokens - 1 rows. Every shape is checked before anything is
    /// copied; a mismatch is an error naming the file.
    /// </summary>
    public static void LoadOfficial(Sam sam, string path) => Load(sam, path, complete: false);

    /// <summary>
    /// Loads a SAM state dict completely, as segment-anything's build_sam does for the promptable model: every
    /// tensor including mask_tokens, output_hypernetworks_mlps and iou_prediction_head (the model must be built
    /// with the checkpoint's num_multimask_outputs, 3 for SAM and MedSAM). pos_embed and the global blocks'
    /// rel_pos are resized as in <see cref="LoadOfficial"/> when the model's input size differs. A checkpoint
    /// without the IoU head (e.g. a SAMed LoRA file) is an error naming the file.
    /// </summary>
    public static void LoadComplete(Sam sam, string path) => Load(sam, path, complete: true);

    private static void Load(Sam sam, string path, bool complete)
    {
        var file = PthStateDict.Read(path);
        try
        {
            var prepared = Prepare(sam, file, path, complete);
            CopyInto(sam.state_dict(), prepared);
            foreach (var (key, tensor) in prepared)
            {
                if (!ReferenceEquals(tensor, file.GetValueOrDefault(key)))
                    tensor.Dispose();
            }
        }
        finally
        {
            foreach (var tensor in file.Values)
                tensor.Dispose();
        }
    }

    /// <summary>The tensors to copy into the model, keyed by its state-dict names, validated against its shapes.</summary>
    public static Dictionary<string, Tensor> Prepare(Sam sam, IReadOnlyDictionary<string, Tensor> file, string path) =>
        Prepare(sam, file, path, complete: false);

    /// <summary>As <see cref="Prepare(Sam, IReadOnlyDictionary{string, Tensor}, string)"/>; <paramref name="complete"/> skips nothing.</summary>
    public static Dictionary<string, Tensor> Prepare(Sam sam, IReadOnlyDictionary<string, Tensor> file, string path, bool complete)
    {
        if (complete && !file.Keys.Any(k => k.StartsWith("mask_decoder.iou_prediction_head.", StringComparison.Ordinal)))
            throw new InvalidDataException(
                $"{path}: the checkpoint has no IoU head (mask_decoder.iou_prediction_head.*); promptable SAM needs a complete SAM/MedSAM "
                + "checkpoint (a SAMed LoRA file holds only the adapted parts)");
        var target = sam.state_dict();
        bool exact = target.Count == file.Count
            && target.All(kv => file.TryGetValue(kv.Key, out var t) && t.shape.SequenceEqual(kv.Value.shape));
        if (exact)
            return target.Keys.ToDictionary(k => k, k => file[k]);

        var problems = new List<string>();
        var prepared = new Dictionary<string, Tensor>();
        int tokens = sam.Config.ImageEmbeddingSize;
        var globalRelPos = new HashSet<string>();
        foreach (int block in sam.Config.GlobalAttnIndexes)
        {
            globalRelPos.Add($"image_encoder.blocks.{block}.attn.rel_pos_h");
            globalRelPos.Add($"image_encoder.blocks.{block}.attn.rel_pos_w");
        }

        foreach (var (key, want) in target)
        {
            if (!complete && IsSkipped(key))
                continue;
            if (!file.TryGetValue(key, out var have))
            {
                problems.Add($"missing {key} [{Shape(want)}]");
                continue;
            }

            var value = have;
            if (key == "image_encoder.pos_embed" && have.dim() == 4 && (have.shape[1] != tokens || have.shape[2] != tokens))
                value = ResizePosEmbed(have, tokens);
            else if (globalRelPos.Contains(key) && have.dim() == 2 && have.shape[0] != 2 * tokens - 1)
                value = ResizeRelPos(have, 2 * tokens - 1);

            if (!value.shape.SequenceEqual(want.shape))
                problems.Add($"{key} is [{Shape(have)}] in the file but the model needs [{Shape(want)}]");
            prepared[key] = value;
        }

        foreach (var key in file.Keys)
        {
            if (!target.ContainsKey(key) && (complete || !IsSkipped(key)))
                problems.Add($"unexpected {key} [{Shape(file[key])}]");
        }

        if (problems.Count > 0)
        {
            foreach (var (key, tensor) in prepared)
            {
                if (!ReferenceEquals(tensor, file[key]))
                    tensor.Dispose();
            }
            throw new InvalidDataException(
                $"{path}: not a SAM checkpoint for this model ({sam.Config.EncoderEmbedDim}-dim encoder, depth {sam.Config.EncoderDepth}): "
                + $"{problems.Count} problem(s): {string.Join("; ", problems.Take(8))}{(problems.Count > 8 ? "; ..." : "")}");
        }
        return prepared;
    }

    /// <summary>[1, h, w, C] to [1, tokens, tokens, C], bilinear without aligned corners.</summary>
    public static Tensor ResizePosEmbed(Tensor posEmbed, int tokens)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var channelsFirst = posEmbed.permute(0, 3, 1, 2);
        var resized = F.interpolate(channelsFirst, size: [tokens, tokens], mode: InterpolationMode.Bilinear, align_corners: false);
        return resized.permute(0, 2, 3, 1).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>[L, head_dim] to [rows, head_dim] as SAMed does: bilinear over the (L, head_dim) plane.</summary>
    public static Tensor ResizeRelPos(Tensor relPos, long rows)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        long width = relPos.shape[1];
        var plane = relPos.unsqueeze(0).unsqueeze(0);
        var resized = F.interpolate(plane, size: [rows, width], mode: InterpolationMode.Bilinear, align_corners: false);
        return resized[0, 0].contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Copies values into the model's own parameters and buffers without recording gradients.</summary>
    internal static void CopyInto(IReadOnlyDictionary<string, Tensor> modelState, IReadOnlyDictionary<string, Tensor> values)
    {
        using var noGrad = torch.no_grad();
        foreach (var (key, value) in values)
            modelState[key].copy_(value);
    }

    private static bool IsSkipped(string key) => SkippedWhenAdapting.Any(key.Contains);

    internal static string Shape(Tensor t) => string.Join(", ", t.shape);
}
