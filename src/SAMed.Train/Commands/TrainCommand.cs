using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using SAMed.Training;

namespace SAMed.Train.Commands;

/// <summary>
/// `samed train`: SAMed training. Without options it trains the tiny built-in configuration on synthetic volumes;
/// --config names a JSON configuration, --set and the named options override any of its keys, --resume continues
/// an interrupted run from its folder.
/// </summary>
public static class TrainCommand
{
    // Named options for configuration keys; every one also answers to its snake_case spelling (SAMed's argparse names).
    private static readonly (string Option, string Key, string Description, string[] Aliases)[] Shortcuts =
    [
        ("--sam-checkpoint", "sam_checkpoint", "Official SAM checkpoint (SAMed's --ckpt).", ["--ckpt"]),
        ("--lora-checkpoint", "lora_checkpoint", "Checkpoint of the strategy to start from (SAMed's --lora_ckpt: a LoRA one for lora).", ["--lora", "--lora_ckpt"]),
        ("--model", "vit_name", "SAM size: vit_b, vit_l, vit_h or tiny (SAMed's --vit_name).", ["--vit-name"]),
        ("--strategy", "strategy", "How SAM is adapted: lora (SAMed), adapter (Medical SAM Adapter), decoder (decoder only) or full.", []),
        ("--rank", "rank", "LoRA rank (strategy lora).", []),
        ("--n-gpu", "n_gpu", "SAMed's n_gpu: a step sees batch_size * n_gpu images (split over the GPUs with --device cuda or --devices).", []),
        ("--warmup-period", "warmup_period", "Warmup iterations.", []),
        ("--dice-weight", "dice_weight", "Weight of the Dice loss (CE gets 1 - it; SAMed's --dice_param).", ["--dice-param"]),
        ("--img-size", "img_size", "Input size of the network.", []),
        ("--num-classes", "num_classes", "Foreground classes.", []),
        ("--batch-size", "batch_size", "Batch size per GPU (a step sees batch_size * n_gpu).", []),
        ("--base-lr", "base_lr", "Base learning rate.", []),
        ("--max-epochs", "max_epochs", "Epochs of the schedule.", []),
        ("--stop-epoch", "stop_epoch", "Epoch to stop at.", []),
        ("--max-steps", "max_steps", "Stop after this many iterations.", []),
        ("--root-path", "root_path", "Folder of training slices (train_npz).", []),
        ("--list-dir", "list_dir", "Folder with train.txt and test_vol.txt.", []),
        ("--volume-path", "volume_path", "Folder of held-out volumes (test_vol_h5) evaluated after training.", []),
        ("--device", "device", "cpu, cuda or cuda:N (cuda with --n-gpu N > 1: data parallel over cuda:0..N-1).", []),
        ("--devices", "devices", "Data parallel: one model replica per device, e.g. cuda:0,cuda:1 (or cpu,cpu); each step's batch is split over them.", []),
        ("--precision", "precision", "float32, or bfloat16 (frozen encoder in bfloat16; LoRA, decoder, optimizer and loss float32).", []),
        ("--threads", "threads", "CPU threads for torch (0: libtorch's default).", []),
        ("--num-workers", "num_workers", "Data-loader threads.", []),
        ("--grad-accum-steps", "grad_accum_steps", "Micro-batches per step (same gradient, less memory).", []),
        ("--seed", "seed", "Random seed.", []),
        ("--output", "output", "Folder that receives the run folder.", ["-o"]),
    ];

    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "JSON configuration (e.g. configs/synapse_vit_b.json); default: the built-in tiny synthetic run, or SAMed's train.py defaults when --root-path names the data." };
        var set = new Option<string[]>("--set")
        {
            Description = "Override a configuration key: --set key=value (repeatable; values are JSON, bare words are text).",
            AllowMultipleArgumentsPerToken = false,
        };
        var resume = new Option<string?>("--resume") { Description = "Continue the interrupted run in this folder (its config.json is used)." };
        var runDir = new Option<string?>("--run-dir") { Description = "Run folder (default: a new folder under the output folder)." };
        var noEval = new Option<bool>("--no-eval") { Description = "Skip the held-out evaluation after training." };
        var shortcuts = Shortcuts.Select(s => (s.Key, Option: new Option<string?>(s.Option, s.Aliases) { Description = s.Description })).ToList();
        // SAMed's train.py switches: its README trains with --warmup --AdamW (this project's recipe has both on).
        var flags = new (string Assignment, Option<bool> Option)[]
        {
            ("warmup=true", new Option<bool>("--warmup") { Description = "Linear learning-rate warmup (SAMed's --warmup; on in the built-in recipes)." }),
            ("optimizer=adamw", new Option<bool>("--AdamW", "--adamw") { Description = "AdamW (SAMed's --AdamW; the built-in recipes use it)." }),
        };

        var command = new Command("train", "Fine-tune SAM as SAMed does, with LoRA or another strategy (no options: a tiny model on built-in synthetic volumes).")
        {
            config, set, resume, runDir, noEval,
        };
        foreach (var (_, option) in shortcuts)
            command.Options.Add(option);
        foreach (var (_, option) in flags)
            command.Options.Add(option);
        var samed = new Cli.SamedSwitches();
        samed.AddTo(command);

        command.SetAction(result =>
        {
            using var stop = new CancellationTokenSource();
            using var interrupt = StopOnSignal(PosixSignal.SIGINT, stop);
            using var terminate = StopOnSignal(PosixSignal.SIGTERM, stop);
            samed.Check(result);
            var options = new TrainerOptions { RunDirectory = result.GetValue(runDir), Evaluate = !result.GetValue(noEval), Cancellation = stop.Token };
            try
            {
                var named = shortcuts.Where(s => result.GetValue(s.Option) is not null).Select(s => $"{s.Key}={result.GetValue(s.Option)}")
                    .Concat(flags.Where(f => result.GetValue(f.Option)).Select(f => f.Assignment)).ToList();
                var assignments = (result.GetValue(set) ?? []).Concat(named).ToList();
                TrainResult trained;
                if (result.GetValue(resume) is { } resumeDirectory)
                {
                    if (assignments.Count > 0 || result.GetValue(config) is not null)
                        throw new TrainConfigException("--resume continues a run with its saved config.json; it takes no --config, --set or setting options");
                    trained = Trainer.Resume(resumeDirectory, options);
                }
                else
                {
                    string? path = result.GetValue(config);
                    bool samedStyle = path is null && named.Any(a => a.StartsWith("root_path=", StringComparison.Ordinal));
                    var baseConfig = path is not null ? TrainConfigFile.Load(path) : samedStyle ? TrainPresets.SamedTrainPy : TrainPresets.Smoke;
                    string source = (path ?? (samedStyle ? "SAMed's train.py defaults" : "built-in smoke configuration"))
                        + (assignments.Count > 0 ? " with overrides" : "");
                    var trainConfig = TrainConfigFile.Apply(baseConfig, assignments);
                    if (samedStyle && trainConfig is { VitName: "vit_b", SamCheckpoint: null })
                        trainConfig = trainConfig with { SamCheckpoint = TrainPresets.SamedVitBCheckpoint };
                    trained = Trainer.Train(trainConfig, options, source);
                }
                if (trained.HeldOut is { } heldOut)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"held-out mean Dice: {heldOut.MeanDice:F4}"));
                return stop.IsCancellationRequested ? InterruptedExitCode : 0;
            }
            catch (Exception e) when (e is TrainConfigException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or InvalidOperationException)
            {
                Console.Error.WriteLine($"samed train: {Cli.CommandRunner.OneLine(e.Message)}");
                return Cli.ExitCodes.BadInput;
            }
        });
        return command;
    }

    /// <summary>128 + SIGINT, as a shell reports a program stopped by Ctrl-C.</summary>
    public const int InterruptedExitCode = 130;

    /// <summary>
    /// The first SIGINT/SIGTERM asks the trainer to stop after the current step (it saves the resume state and prints
    /// the line to continue with); a second one ends the process at once.
    /// </summary>
    private static PosixSignalRegistration StopOnSignal(PosixSignal signal, CancellationTokenSource stop) =>
        PosixSignalRegistration.Create(signal, context =>
        {
            if (stop.IsCancellationRequested)
                return;
            context.Cancel = true;
            Console.Error.WriteLine($"{signal}: stopping after the current step (send it again to quit at once)");
            stop.Cancel();
        });
}
