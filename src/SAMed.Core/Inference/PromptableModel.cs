using SAMed.Adaptation;
using SAMed.Checkpoints;
using SAMed.Lora;
using SAMed.Modeling;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Inference;

/// <summary>How slice intensities (windowed to [0, 1]) become the model's pixels.</summary>
public enum PixelNorm
{
    /// <summary>Scaled to 0-255 and normalised by SAM's pixel mean/std (official SAM checkpoints).</summary>
    Sam,

    /// <summary>Fed as [0, 1] (pixel mean 0, std 255 on 0-255 values), as MedSAM's inference feeds its encoder.</summary>
    MedSam,
}

/// <summary>One slice's prompt in slice pixels (x = column, y = row): points with labels 1/0 and/or a box (inclusive corners).</summary>
public sealed record SlicePrompt(IReadOnlyList<(double X, double Y, int Label)> Points, (double X0, double Y0, double X1, double Y1)? Box)
{
    /// <summary>SAM's advice: a lone point is ambiguous, so three masks are predicted and the best-scored is kept.</summary>
    public bool Multimask => Box is null && Points.Count == 1;
}

/// <summary>
/// A promptable SAM ready for inference: built as the official SAM (3 multimask outputs + IoU head), loaded completely
/// from an official SAM or MedSAM checkpoint (optionally with a LoRA checkpoint trained in the promptable mode), or
/// random (tiny, for tests). Slices are resized longest side to the image size (<see cref="ResizeLongestSide"/>) and
/// padded; masks come back at the slice's size.
/// </summary>
public sealed class PromptableModel : IDisposable
{
    private readonly AdaptedSam? lora;

    public PromptableModel(Sam sam, AdaptedSam? lora, Device device, string description)
    {
        if (sam.Config.NumClasses != 3)
            throw new ArgumentException($"a promptable SAM has 3 multimask outputs (4 mask tokens); this one has {sam.Config.NumMaskTokens}");
        Model = new PromptableSam(sam);
        this.lora = lora;
        Device = device;
        Description = description;
        Resize = new ResizeLongestSide(sam.Config.ImageSize);
        sam.eval();
    }

    public PromptableSam Model { get; }

    public Device Device { get; }

    public string Description { get; }

    public ResizeLongestSide Resize { get; }

    /// <summary>
    /// --sam-checkpoint (official SAM or MedSAM layout, loaded completely; pos_embed/rel_pos resized if --img-size
    /// differs) plus an optional --lora of a promptable run, whose description (epoch_N.json) then says the model;
    /// tiny without a checkpoint is random (seeded). <paramref name="norm"/> null: SAM's pixel normalisation, or the
    /// run's.
    /// </summary>
    public static PromptableModel Load(ModelLoadOptions options, PixelNorm? norm)
    {
        if (options.Checkpoint is not null)
            throw new ArgumentException($"{options.Checkpoint}: prompts need the complete SAM checkpoint (--sam-checkpoint) plus optionally --lora; a merged export is not supported yet");
        var described = options.LoraCheckpoint is null ? null : ModelSpecFile.FindBeside(options.LoraCheckpoint);
        // Read once: for what it holds (when no description says it) and for the load.
        using var strategyCheckpoint = options.LoraCheckpoint is null ? null : new StrategyCheckpoint(options.LoraCheckpoint);
        var spec = described is null ? SpecFromOptions(options, norm, strategyCheckpoint) : SpecFromDescription(options, norm, described);
        if (spec.Size != "tiny" && options.SamCheckpoint is null)
            throw new ArgumentException($"prompts with {spec.Size} need --sam-checkpoint (an official SAM or MedSAM checkpoint)");
        var device = TorchDevices.Parse(options.Device);
        string size = spec.Size;
        var model = ModelFactory.Create(spec, options.SamCheckpoint, strategyCheckpoint, device);
        var sam = model.Sam;
        try
        {
            var parts = new List<string>
            {
                options.SamCheckpoint is not null ? $"promptable {size} from {options.SamCheckpoint}" : $"random-init promptable {size} (seed {spec.Seed})",
            };
            if (options.LoraCheckpoint is not null)
                parts.Add($"{model.Strategy}{(model is LoraSam l ? $" rank {l.Rank}" : "")} from {options.LoraCheckpoint}");
            string pixels = sam.Config.PixelStd[0] == 255f ? "inputs in [0, 1]" : "SAM pixel mean/std";
            return new PromptableModel(sam, model, device, string.Join(", ", parts) + $", {pixels}");
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>SAM's promptable architecture of the asked size, with the strategy the --lora file holds (decoder: SAM as it is).</summary>
    private static ModelSpec SpecFromOptions(ModelLoadOptions options, PixelNorm? norm, StrategyCheckpoint? strategyCheckpoint)
    {
        string size = options.ModelType ?? "vit_b";
        var contents = strategyCheckpoint?.Contents;
        var architecture = PromptableSam.Config(size, options.ImageSize, unitInputs: norm == PixelNorm.MedSam);
        return new ModelSpec
        {
            Size = size,
            ImgSize = architecture.ImageSize,
            NumClasses = architecture.NumClasses,
            Mode = ModelSpec.PromptableMode,
            Custom = architecture,
            PixelMean = architecture.PixelMean,
            PixelStd = architecture.PixelStd,
            // Without a strategy checkpoint the model is SAM as it is (the decoder strategy adds nothing to it).
            Strategy = contents?.Strategy ?? Strategies.Decoder,
            Rank = options.Rank ?? contents?.Rank ?? 4,
            Seed = options.Seed ?? 1234,
        };
    }

    /// <summary>The model a promptable run describes beside its checkpoint; an option that contradicts it is one sentence naming both.</summary>
    private static ModelSpec SpecFromDescription(ModelLoadOptions options, PixelNorm? norm, ModelSpec described)
    {
        string held = CheckpointModel.Held(options.LoraCheckpoint!, described);
        if (described.Mode != ModelSpec.PromptableMode)
            throw new ArgumentException($"{held}, a semantic model; run it without prompts (test without --prompt, predict without --box/--point/--prompts)");
        CheckpointModel.RequireDescribedSize(held, options.ModelType, described);
        if (options.ImageSize is int imageSize && imageSize != described.ImgSize)
            throw new ArgumentException($"{held}, trained at img_size {described.ImgSize}, not {imageSize} as --img-size asks; leave --img-size out");
        bool unitInputs = described.PixelStd is [255f, ..];
        if (norm is PixelNorm asked && (asked == PixelNorm.MedSam) != unitInputs)
            throw new ArgumentException($"{held}, trained with {(unitInputs ? "inputs in [0, 1] (--pixel-norm medsam)" : "SAM's pixel mean/std (--pixel-norm sam)")}; leave --pixel-norm out");
        return described with { Seed = options.Seed ?? described.Seed, Precision = "float32" };
    }

    /// <summary>The image embedding [1, C, h, w] of a slice [H, W] with intensities in [0, 1].</summary>
    public Tensor EmbedSlice(float[,] slice)
    {
        using var pause = GcPause.Begin();
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        int h = slice.GetLength(0), w = slice.GetLength(1);
        var pixels = torch.tensor(Flatten(slice), [1, 1, h, w]).to(Device).mul(255.0f).expand(-1, 3, -1, -1);
        var resized = Resize.ApplyImage(pixels);
        return Model.EmbedImages(resized).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The mask of one prompt on a slice of <paramref name="originalSize"/> (rows, columns), from its embedding:
    /// prompts resized as SamPredictor does, one mask (box, or several points) or the best-scored of three (a lone point).
    /// </summary>
    public (bool[,] Mask, float Iou) Segment(Tensor embedding, (int H, int W) originalSize, SlicePrompt prompt)
    {
        using var pause = GcPause.Begin();
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var prompts = ToModelPrompts(prompt, originalSize);
        using var output = Model.Decode(embedding, prompts, prompt.Multimask);
        int best = (int)output.IouPredictions[0].argmax().item<long>();
        float iou = output.IouPredictions[0, best].item<float>();
        var logits = Model.Postprocess(output.LowResLogits[.., best..(best + 1)], Resize.InputSize(originalSize), originalSize);
        var mask = PromptableSam.Threshold(logits)[0, 0].cpu();
        var values = mask.data<bool>().ToArray();
        var result = new bool[originalSize.H, originalSize.W];
        Buffer.BlockCopy(values, 0, result, 0, values.Length);
        return (result, iou);
    }

    private SamPrompts ToModelPrompts(SlicePrompt prompt, (int H, int W) originalSize)
    {
        PointPrompts? points = null;
        if (prompt.Points.Count > 0)
        {
            var coords = prompt.Points.SelectMany(p =>
            {
                var (x, y) = Resize.ApplyCoords(p.X, p.Y, originalSize);
                return new[] { (float)x, (float)y };
            }).ToArray();
            var labels = prompt.Points.Select(p => (float)p.Label).ToArray();
            points = new PointPrompts(torch.tensor(coords, [1, prompt.Points.Count, 2], device: Device), torch.tensor(labels, [1, prompt.Points.Count], device: Device));
        }
        Tensor? box = null;
        if (prompt.Box is { } b)
        {
            var (x0, y0, x1, y1) = Resize.ApplyBox(b, originalSize);
            box = torch.tensor(new[] { (float)x0, (float)y0, (float)x1, (float)y1 }, [1, 4], device: Device);
        }
        return new SamPrompts(points, box);
    }

    private static float[] Flatten(float[,] slice)
    {
        var values = new float[slice.Length];
        Buffer.BlockCopy(slice, 0, values, 0, values.Length * sizeof(float));
        return values;
    }

    public void Dispose()
    {
        // The LoRA wrapper disposes the SAM it holds.
        if (lora is not null)
            lora.Dispose();
        else
            Model.Sam.Dispose();
    }
}
