namespace SAMed.Adaptation;

/// <summary>The adaptation strategies (config key <c>strategy</c>) and what each trains.</summary>
public static class Strategies
{
    /// <summary>SAMed's q/v LoRA in every encoder block, with the prompt encoder and mask decoder.</summary>
    public const string Lora = "lora";

    /// <summary>Medical SAM Adapter's Space_Adapter and MLP_Adapter in every encoder block, with the prompt encoder and mask decoder.</summary>
    public const string Adapter = "adapter";

    /// <summary>Frozen encoder; prompt encoder and mask decoder train.</summary>
    public const string Decoder = "decoder";

    /// <summary>Everything trains.</summary>
    public const string Full = "full";

    public static IReadOnlyList<string> Names { get; } = [Lora, Adapter, Decoder, Full];

    public static bool IsKnown(string? name) => name is not null && Names.Contains(name);

    /// <summary>True when the image encoder's own weights stay frozen (so it may be held in bfloat16).</summary>
    public static bool FreezesEncoderEntirely(string name) => name is Lora or Decoder;
}
