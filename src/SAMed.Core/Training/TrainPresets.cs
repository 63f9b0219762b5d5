namespace SAMed.Training;

/// <summary>Built-in configurations.</summary>
public static class TrainPresets
{
    /// <summary>
    /// What `samed train` runs without a config (and configs/smoke.json holds): the tiny SAM trained on synthetic
    /// CT-like volumes generated into the run folder, on the CPU, in about a minute on two cores: 400 iterations of
    /// batch 8 at 64x64 (8 classes), base_lr 0.01 (twice SAMed's, as the tiny model starts from random weights).
    /// One torch thread: the second core reads and augments batches, and tiny tensors gain nothing from more threads
    /// (with other processes on the machine, a second torch thread made steps ten times slower). The held-out
    /// volumes are evaluated every 5 epochs (best.pth, the Dice curve of progress.png).
    /// </summary>
    public static TrainConfig Smoke { get; } = new()
    {
        VitName = "tiny",
        ImgSize = 64,
        Rank = 4,
        NumClasses = 8,
        BatchSize = 8,
        NGpu = 1,
        BaseLr = 0.01,
        WeightDecay = 0.1,
        Warmup = true,
        WarmupPeriod = 20,
        MaxEpochs = 25,
        StopEpoch = 25,
        SaveInterval = 5,
        ResumeInterval = 50,
        EvalInterval = 5,
        SyntheticData = true,
        SyntheticTrainVolumes = 8,
        SyntheticTestVolumes = 2,
        SyntheticSlices = 16,
        SyntheticSize = 64,
        Device = "cpu",
        Threads = 1,
        NumWorkers = 1,
        LogInterval = 20,
        PreviewInterval = 20,
    };

    /// <summary>
    /// SAMed's train.py defaults (its argparse): vit_b at 512, 8 classes, batch 12 on 2 GPUs, base_lr 0.005, SGD with
    /// momentum 0.9 and weight decay 1e-4 and no warmup unless --AdamW / --warmup are given (its README gives both),
    /// 200 epochs stopped at 160, lists in lists/lists_Synapse, the SAM checkpoint checkpoints/sam_vit_b_01ec64.pth.
    /// `samed train` starts from it when it is given SAMed's data options (--root-path) without a configuration file.
    /// </summary>
    public static TrainConfig SamedTrainPy { get; } = new()
    {
        Optimizer = "sgd",
        WeightDecay = 1e-4,
        Warmup = false,
        ListDir = "lists/lists_Synapse",
    };

    /// <summary>SAMed's default --ckpt, used with <see cref="SamedTrainPy"/> for vit_b when no SAM checkpoint is named.</summary>
    public const string SamedVitBCheckpoint = "checkpoints/sam_vit_b_01ec64.pth";
}
