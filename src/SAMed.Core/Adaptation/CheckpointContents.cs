using SAMed.Lora;
using SAMed.Modeling;
using static TorchSharp.torch;

namespace SAMed.Adaptation;

/// <summary>
/// What a strategy checkpoint holds, read from its key names and shapes alone: the strategy, the LoRA rank, the number
/// of classes, and the encoder's width and depth where the file says them.
/// </summary>
public sealed record CheckpointContents(string Strategy, int? Rank, int? NumClasses, long? EncoderWidth, int? EncoderDepth)
{
    /// <summary>Reads a checkpoint file; a missing or damaged file, or one that is no strategy checkpoint, is an exception naming it.</summary>
    public static CheckpointContents Read(string path)
    {
        using var file = new StrategyCheckpoint(path);
        return file.Contents;
    }

    /// <summary>The contents of a state dict; null when it is no strategy checkpoint.</summary>
    public static CheckpointContents? Of(IReadOnlyDictionary<string, Tensor> tensors)
    {
        int? classes = tensors.TryGetValue("mask_decoder.mask_tokens.weight", out var tokens) && tokens.dim() == 2 && tokens.shape[0] >= 2
            ? (int)tokens.shape[0] - 1
            : null;
        if (tensors.TryGetValue(LoraSam.FirstAKey, out var a) && a.dim() == 2)
        {
            int pairs = tensors.Keys.Count(k => LoraSam.IsAKey(k));
            return new(Strategies.Lora, (int)a.shape[0], classes, a.shape[1], pairs / 2);
        }
        var adapterBlocks = tensors.Keys.Where(AdapterSam.IsAdapterKey).Select(k => k.Split('.')[2]).Distinct().ToList();
        if (adapterBlocks.Count > 0)
        {
            long? width = tensors.FirstOrDefault(kv => kv.Key.EndsWith("Space_Adapter.D_fc2.weight", StringComparison.Ordinal)).Value?.shape[0];
            return new(Strategies.Adapter, null, classes, width, adapterBlocks.Count);
        }
        if (tensors.TryGetValue("image_encoder.pos_embed", out var pos) && pos.dim() == 4)
        {
            int depth = tensors.Keys.Where(k => k.StartsWith("image_encoder.blocks.", StringComparison.Ordinal)).Select(k => k.Split('.')[2]).Distinct().Count();
            return new(Strategies.Full, null, classes, pos.shape[3], depth);
        }
        if (tensors.Keys.Any(k => k.StartsWith("mask_decoder.", StringComparison.Ordinal)))
            return new(Strategies.Decoder, null, classes, null, null);
        return null;
    }

    /// <summary>Describes a state dict for messages ("lora rank 4 for a vit_b encoder, 8 classes").</summary>
    public static string Describe(IReadOnlyDictionary<string, Tensor> tensors) => Of(tensors)?.ToString() ?? "no strategy checkpoint";

    public override string ToString()
    {
        var parts = new List<string> { Rank is int rank ? $"{Strategy} rank {rank}" : Strategy };
        if (EncoderWidth is long width && EncoderDepth is int depth)
            parts.Add($"for {SamBuilder.FromEncoder(width, depth) ?? $"a {width}-wide, {depth}-block"} encoder");
        if (NumClasses is int classes)
            parts.Add($"{classes} classes");
        return string.Join(", ", parts);
    }
}
