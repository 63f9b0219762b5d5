namespace SAMed.Inference;

/// <summary>
/// Where a model for inference comes from. Either <see cref="Checkpoint"/> (a merged, self-contained checkpoint
/// written by <c>export</c>, or a full fine-tuning checkpoint, with its JSON beside it), or a SAM checkpoint plus an
/// optional strategy checkpoint (<see cref="LoraCheckpoint"/>: SAMed's LoRA or any strategy's; the file's keys and the
/// description written beside it say which model it belongs to). Nullable settings must agree with what the checkpoint
/// says; where it says nothing they choose (defaults: vit_b, 512, SAMed's 8 classes and rank 4).
/// </summary>
public sealed record ModelLoadOptions
{
    public string? Checkpoint { get; init; }
    public string? ConfigPath { get; init; }
    /// <summary>vit_b, vit_l, vit_h or tiny; null: what the checkpoint says, else vit_b.</summary>
    public string? ModelType { get; init; }
    public int? ImageSize { get; init; }
    public int? NumClasses { get; init; }
    public int? Rank { get; init; }
    public int? InputSize { get; init; }
    /// <summary>torch seed before building a model that has no SAM checkpoint (default: the configuration's, 1234).</summary>
    public int? Seed { get; init; }

    public string? SamCheckpoint { get; init; }

    /// <summary>The strategy's checkpoint (SAMed's --lora_ckpt, or an adapter, decoder or LoRA run's epoch_N.pth).</summary>
    public string? LoraCheckpoint { get; init; }

    /// <summary>Fold the LoRA updates into the qkv weights after loading (same outputs, no LoRA cost).</summary>
    public bool MergeLora { get; init; }

    /// <summary>cpu, cuda or cuda:N.</summary>
    public string Device { get; init; } = "cpu";
}
