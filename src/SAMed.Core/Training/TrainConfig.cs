using System.Text.Json;
using System.Text.Json.Serialization;
using SAMed.Adaptation;
using SAMed.Modeling;

namespace SAMed.Training;

/// <summary>
/// Every setting of a training run. JSON keys are the snake_case property names; the names follow SAMed's
/// train.py where it has the setting (vit_name, img_size, rank, num_classes, batch_size, n_gpu, base_lr, warmup,
/// warmup_period, max_epochs, stop_epoch, seed, root_path, list_dir) and say what they are otherwise
/// (sam_checkpoint is SAMed's --ckpt, lora_checkpoint its --lora_ckpt, dice_weight its --dice_param,
/// lr_exponent SAMed_h's --lr_exp; SAMed's --AdamW flag is optimizer "adamw").
/// </summary>
public sealed record TrainConfig
{
    /// <summary>SAM size: vit_b, vit_l, vit_h, or tiny (a small random-initialised SAM for CPU runs and tests).</summary>
    public string VitName { get; init; } = "vit_b";
    public int ImgSize { get; init; } = 512;

    /// <summary>How SAM is adapted: lora (SAMed), adapter (Medical SAM Adapter), decoder (decoder only) or full.</summary>
    public string Strategy { get; init; } = Strategies.Lora;

    /// <summary>LoRA rank (strategy lora).</summary>
    public int Rank { get; init; } = 4;
    public int NumClasses { get; init; } = 8;

    /// <summary>Per-GPU batch as in SAMed; one step sees batch_size * n_gpu images (SAMed's DataParallel batch).</summary>
    public int BatchSize { get; init; } = 12;
    public int NGpu { get; init; } = 2;

    public string Optimizer { get; init; } = "adamw";
    public double BaseLr { get; init; } = 0.005;
    public bool Warmup { get; init; } = true;
    public int WarmupPeriod { get; init; } = 250;
    public double[] Betas { get; init; } = [0.9, 0.999];
    public double Eps { get; init; } = 1e-8;
    /// <summary>
    /// Decoupled decay for AdamW, L2 decay for SGD; null (not given) takes SAMed's value for the optimizer, see
    /// <see cref="EffectiveWeightDecay"/>.
    /// </summary>
    public double? WeightDecay { get; init; }

    /// <summary>SAMed's weight decay when none is given: 0.1 for AdamW, 1e-4 for SGD (trainer.py's two optimizers).</summary>
    public double EffectiveWeightDecay => WeightDecay ?? (Optimizer == "sgd" ? 1e-4 : 0.1);

    /// <summary>SGD momentum (SAMed's alternative to AdamW: momentum 0.9, weight decay 1e-4).</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Exponent of the poly decay (1 - shift_iter / max_iterations)^lr_exponent: 0.9 in SAMed, 7 in SAMed_h.</summary>
    public double LrExponent { get; init; } = 0.9;

    public int MaxEpochs { get; init; } = 200;
    public int StopEpoch { get; init; } = 160;

    /// <summary>Stop after this many optimizer steps (for short runs and tests); null: run to stop_epoch.</summary>
    public int? MaxSteps { get; init; }

    public double DiceWeight { get; init; } = 0.8;
    public int Seed { get; init; } = 1234;

    /// <summary>Epochs between SAMed LoRA checkpoints (epoch_N.pth); SAMed uses 20. The last epoch is always saved.</summary>
    public int SaveInterval { get; init; } = 20;

    /// <summary>Iterations between resume checkpoints (also written at every LoRA save and at the end).</summary>
    public int ResumeInterval { get; init; } = 200;

    /// <summary>
    /// Epochs between held-out evaluations during training, keeping best.pth by mean Dice (needs held-out volumes);
    /// 0: only after training, as SAMed.
    /// </summary>
    public int EvalInterval { get; init; }

    /// <summary>Training slices (SAMed's train_npz folder) and the folder with train.txt / test_vol.txt.</summary>
    public string? RootPath { get; init; }
    public string? ListDir { get; init; }

    /// <summary>Held-out volumes (SAMed's test_vol_h5 folder), evaluated after training (and every eval_interval epochs); null: no evaluation.</summary>
    public string? VolumePath { get; init; }

    /// <summary>Generate synthetic volumes into the run folder and train on them (root_path, list_dir, volume_path unused).</summary>
    public bool SyntheticData { get; init; }
    public int SyntheticTrainVolumes { get; init; } = 4;
    public int SyntheticTestVolumes { get; init; } = 2;
    public int SyntheticSlices { get; init; } = 12;
    public int SyntheticSize { get; init; } = 64;

    public string? SamCheckpoint { get; init; }

    /// <summary>The strategy's checkpoint to warm-start from (SAMed's --lora_ckpt; for any strategy).</summary>
    public string? LoraCheckpoint { get; init; }

    /// <summary>cpu, cuda or cuda:N (with device cuda and n_gpu &gt; 1: data parallel over cuda:0..n_gpu-1, see <see cref="Devices"/>).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// Data parallelism as SAMed's nn.DataParallel: one replica of the model per device (["cuda:0", "cuda:1"], or
    /// ["cpu", "cpu"]), each step's batch_size * n_gpu images split over them as torch.chunk splits them, the loss and
    /// the optimizer step on the first device. Null: one device (<see cref="Device"/>). See docs/multi-gpu.md.
    /// </summary>
    public string[]? Devices { get; init; }

    /// <summary>
    /// float32, or bfloat16: the frozen image encoder holds and computes in bfloat16 while LoRA, prompt encoder,
    /// mask decoder, optimizer state and loss stay float32 (SAMed_h trains under torch.autocast; see TrainingPrecision).
    /// </summary>
    public string Precision { get; init; } = TrainingPrecision.Float32;

    /// <summary>CUDA only: torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32.</summary>
    public bool AllowTf32 { get; init; } = true;

    /// <summary>
    /// CUDA only: deterministic algorithms and no cuDNN autotuning, as SAMed's train.py sets by default
    /// (--deterministic 1: cudnn.benchmark off, cudnn.deterministic on). False lets libtorch pick faster,
    /// non-deterministic kernels.
    /// </summary>
    public bool Deterministic { get; init; } = true;

    /// <summary>torch.set_num_threads; 0 keeps libtorch's default.</summary>
    public int Threads { get; init; }

    /// <summary>Micro-batches per step; the step's gradient and loss stay those of the whole batch (see TrainingStep).</summary>
    public int GradAccumSteps { get; init; } = 1;

    /// <summary>Data-loader worker threads (SAMed: 8).</summary>
    public int NumWorkers { get; init; } = 8;

    /// <summary>Iterations between progress lines when the output is not a terminal.</summary>
    public int LogInterval { get; init; } = 20;

    /// <summary>Iterations between TensorBoard image summaries (SAMed: 20).</summary>
    public int PreviewInterval { get; init; } = 20;

    /// <summary>Folder that holds the run folder(s).</summary>
    public string Output { get; init; } = "runs";

    // --- Promptable mode (PromptableStep) ---

    /// <summary>semantic (SAMed: every class at once, no prompts) or promptable (SAM/MedSAM/SAM-Med2D: one object per prompt).</summary>
    public string Mode { get; init; } = "semantic";

    /// <summary>Promptable mode: the prompts drawn each step: box (MedSAM), point (SAM-Med2D) or mixed (box or points, half each).</summary>
    public string PromptKind { get; init; } = "box";

    /// <summary>Promptable mode: positive points per point prompt (one point: three masks, the loss on the best).</summary>
    public int PromptPoints { get; init; } = 1;

    /// <summary>Promptable mode: negative points (outside the target) per point prompt.</summary>
    public int PromptNegativePoints { get; init; }

    /// <summary>Promptable mode: box sides moved out by a random 0..box_shift pixels at 1024 scale (MedSAM: 20), scaled to img_size.</summary>
    public int BoxShift { get; init; } = 20;

    public int EffectiveBatchSize => BatchSize * NGpu;

    /// <summary>
    /// The model this configuration trains: SAMed's (num_classes + 1 multimask outputs), or in the promptable mode
    /// the official SAM architecture (3 multimask outputs and the IoU head; a SAM or MedSAM checkpoint loads completely).
    /// </summary>
    [JsonIgnore]
    public ModelSpec Model => Mode == ModelSpec.PromptableMode ? Promptable(Semantic) : Semantic;

    private ModelSpec Semantic => new()
    {
        Size = VitName,
        ImgSize = ImgSize,
        NumClasses = NumClasses,
        Strategy = Strategy,
        Rank = Rank,
        Precision = Precision,
        Seed = Seed,
    };

    private static ModelSpec Promptable(ModelSpec spec)
    {
        var architecture = PromptableSam.Config(spec.Size, spec.ImgSize, unitInputs: false);
        return spec with
        {
            Mode = ModelSpec.PromptableMode,
            Custom = architecture,
            NumClasses = architecture.NumClasses,
            PixelMean = architecture.PixelMean,
            PixelStd = architecture.PixelStd,
        };
    }

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.Strict,
        IgnoreReadOnlyProperties = true,
    };
}
