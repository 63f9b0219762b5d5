using System.CommandLine;
using SAMed.Inference;

namespace SAMed.Train.Cli;

/// <summary>The model options test, predict and export share, and building the model from them.</summary>
internal sealed class ModelCommandOptions
{
    public Option<string?> Checkpoint { get; } = new("--checkpoint")
    {
        Description = "A merged checkpoint written by export (its .json configuration beside it); replaces --sam-checkpoint and --lora-checkpoint.",
    };
    public Option<string?> SamCheckpoint { get; } = new("--sam-checkpoint", "--ckpt") { Description = "Official SAM checkpoint (e.g. sam_vit_b_01ec64.pth); optional for tiny." };
    public Option<string?> Lora { get; } = new("--lora-checkpoint", "--lora", "--lora_ckpt")
    {
        Description = "The strategy's checkpoint (a run's epoch_N.pth of any strategy, or SAMed's LoRA epoch_159.pth); the description beside it says the model.",
    };
    public Option<string?> Model { get; } = new("--model", "--vit-name")
    {
        Description = "SAM size: vit_b, vit_l, vit_h or tiny (random-init smoke model); default: what the checkpoint says, else vit_b.",
    };
    public Option<string?> Config { get; } = new("--config")
    {
        Description = "Configuration JSON (export's, a training run's, or a SAM architecture) instead of --model.",
    };
    public Option<int?> ImageSize { get; } = new("--img-size") { Description = "Network input size (SAMed: 512; default from the config, else 512)." };
    public Option<int?> InputSize { get; } = new("--input-size") { Description = "SAMed's input_size: slices go to this size first (default 224)." };
    public Option<int?> NumClasses { get; } = new("--num-classes") { Description = "Foreground classes (default: what the checkpoint says, else 8)." };
    public Option<int?> Rank { get; } = new("--rank") { Description = "LoRA rank (default: what the checkpoint says)." };
    public Option<int?> Seed { get; } = new("--seed")
    {
        Description = "torch seed before building a model without SAM checkpoint (tiny): use the training run's seed (default 1234).",
    };
    public Option<bool> MergeLora { get; } = new("--merge-lora") { Description = "Fold LoRA into the qkv weights before running (same outputs to float tolerance, no LoRA cost per forward)." };
    public Option<string> Device { get; } = new("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
    public Option<int> Threads { get; } = CommonOptions.Threads();

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { Checkpoint, SamCheckpoint, Lora, Model, Config, ImageSize, InputSize, NumClasses, Rank, Seed, MergeLora, Device, Threads })
            command.Options.Add(option);
    }

    public void ApplyThreads(ParseResult result) => CommonOptions.ApplyThreads(result, Threads);

    public ModelLoadOptions Options(ParseResult result) => new()
    {
        Checkpoint = result.GetValue(Checkpoint),
        SamCheckpoint = result.GetValue(SamCheckpoint),
        LoraCheckpoint = result.GetValue(Lora),
        ModelType = result.GetValue(Model),
        ConfigPath = result.GetValue(Config),
        ImageSize = result.GetValue(ImageSize),
        InputSize = result.GetValue(InputSize),
        NumClasses = result.GetValue(NumClasses),
        Rank = result.GetValue(Rank),
        Seed = result.GetValue(Seed),
        MergeLora = result.GetValue(MergeLora),
        Device = result.GetValue(Device)!,
    };

    public SegmentationModel Load(ParseResult result) => SegmentationModel.Load(Options(result));
}
