using static TorchSharp.torch;

namespace SAMed.Modeling;

/// <summary>
/// The prompts for one image, batched over B prompt sets (segment-anything's batched_input record): points
/// [B, N, 2] (x, y) with labels [B, N] (1 foreground, 0 background, -1 padding), boxes [B, 4] (x0, y0, x1, y1)
/// and low-res mask inputs [B, 1, 4h, 4w]; all in the model's input frame (after the longest-side resize).
/// Any may be null. The record does not own the tensors.
/// </summary>
public sealed record SamPrompts(PointPrompts? Points = null, Tensor? Boxes = null, Tensor? MaskInputs = null)
{
    /// <summary>B, the number of prompt sets (1 when there are no prompts), as PromptEncoder._get_batch_size.</summary>
    public long Count => Points?.Coords.shape[0] ?? Boxes?.shape[0] ?? MaskInputs?.shape[0] ?? 1;
}

/// <summary>One image's decoder outputs: low-res logits [B, M, 4h, 4w] and IoU predictions [B, M] (M = 3 or 1).</summary>
public sealed record PromptedMasks(Tensor LowResLogits, Tensor IouPredictions) : IDisposable
{
    public void Dispose()
    {
        LowResLogits.Dispose();
        IouPredictions.Dispose();
    }
}
