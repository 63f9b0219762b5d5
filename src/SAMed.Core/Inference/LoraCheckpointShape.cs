using SAMed.Checkpoints;

namespace SAMed.Inference;

/// <summary>The LoRA rank and class count a SAMed LoRA checkpoint was trained with, read from its tensor shapes.</summary>
public static class LoraCheckpointShape
{
    /// <summary>
    /// Rank from w_a_000 ([rank, dim]) and num_classes from mask_decoder.mask_tokens.weight ([num_classes + 1, C]);
    /// null where the tensor is absent. A missing or damaged file is an exception naming it.
    /// </summary>
    public static (int? Rank, int? NumClasses) Read(string path)
    {
        var tensors = PthStateDict.Read(path);
        try
        {
            int? rank = tensors.TryGetValue("w_a_000", out var a) && a.dim() == 2 ? (int)a.shape[0] : null;
            int? classes = tensors.TryGetValue("mask_decoder.mask_tokens.weight", out var tokens) && tokens.dim() == 2 && tokens.shape[0] >= 2
                ? (int)tokens.shape[0] - 1
                : null;
            if (rank is null && !tensors.Keys.Any(k => k.StartsWith("mask_decoder.", StringComparison.Ordinal)))
                throw new InvalidDataException($"{path}: not a SAMed LoRA checkpoint (no w_a_000 and no mask_decoder.* tensors; keys: {string.Join(", ", tensors.Keys.Take(5))}...)");
            return (rank, classes);
        }
        finally
        {
            foreach (var tensor in tensors.Values)
                tensor.Dispose();
        }
    }
}
