namespace SAMed.Inference;

/// <summary>
/// Where a model for inference comes from. Either <see cref="Checkpoint"/> (a merged, self-contained checkpoint
/// written by <c>export</c>, with its configuration JSON beside it), or a SAM checkpoint plus an optional SAMed LoRA
/// checkpoint on an architecture from <see cref="ConfigPath"/> or <see cref="ModelType"/>. Nullable numbers
/// override the configuration when set; otherwise rank and num_classes are read from the LoRA file when there is one.
/// </summary>
public sealed record ModelLoadOptions
{
    public string? Checkpoint { get; init; }
    public string? ConfigPath { get; init; }
    public string ModelType { get; init; } = "vit_b";
    public int? ImageSize { get; init; }
    public int? NumClasses { get; init; }
    public int? Rank { get; init; }
    public int? InputSize { get; init; }
    /// <summary>torch seed before building a model that has no SAM checkpoint (default: the configuration's, 1234).</summary>
    public int? Seed { get; init; }

    public string? SamCheckpoint { get; init; }
    public string? LoraCheckpoint { get; init; }

    /// <summary>Fold the LoRA updates into the qkv weights after loading (same outputs, no LoRA cost).</summary>
    public bool MergeLora { get; init; }

    /// <summary>cpu, cuda or cuda:N.</summary>
    public string Device { get; init; } = "cpu";
}
