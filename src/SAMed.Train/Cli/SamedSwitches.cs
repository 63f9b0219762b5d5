using System.CommandLine;

namespace SAMed.Train.Cli;

/// <summary>
/// SAMed's train.py / test.py arguments that choose among things this project has one of: --module (the LoRA model
/// file, default sam_lora_image_encoder) and --dataset (default Synapse). They are accepted with SAMed's values, so a
/// SAMed command line runs as it is, and refused with one line naming what is supported otherwise.
/// </summary>
internal sealed class SamedSwitches
{
    public Option<string?> Module { get; } = new("--module")
    {
        Description = "SAMed's --module: sam_lora_image_encoder (LoRA on the image encoder, the only one here; other strategies: --strategy).",
    };

    public Option<string?> Dataset { get; } = new("--dataset")
    {
        Description = "SAMed's --dataset: Synapse (the only one; other data go through prepare or --images/--labels).",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Module);
        command.Options.Add(Dataset);
    }

    /// <summary>Throws (one line) when --module or --dataset names something other than SAMed's defaults.</summary>
    public void Check(ParseResult result)
    {
        if (result.GetValue(Module) is string module && module != "sam_lora_image_encoder")
            throw new ArgumentException($"--module {module} is not supported: SAMed's sam_lora_image_encoder (LoRA on the image encoder's qkv) is; choose other adaptations with --strategy");
        if (result.GetValue(Dataset) is string dataset && !dataset.Equals("Synapse", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"--dataset {dataset} is not supported: SAMed's Synapse is; other data sets go through `samed prepare` (NIfTI or image folders), then --root-path or --volume-path");
    }
}
