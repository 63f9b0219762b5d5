using SAMed.Adaptation;
using SAMed.Lora;
using SAMed.Modeling;
using SAMed.TorchInterop;
using SAMed.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SAMed.Benchmarks;

/// <summary>
/// A repeatable piece of model work on fixed random inputs; dispose to free the model. A run returns when the
/// device has finished it (CUDA work is asynchronous: a timer must not stop before the device does).
/// </summary>
public interface IWorkload : IDisposable
{
    void Run();
}

/// <summary>The model work the benchmark times: SAMed's inference forward and one full training step.</summary>
public static class ModelWorkloads
{
    /// <summary>The model the options describe: SAMed's training architecture (pixel mean 0, std 1), randomly initialised.</summary>
    public static ModelSpec Spec(BenchOptions options) => new()
    {
        Size = options.ModelType,
        ImgSize = options.ImageSize,
        NumClasses = options.NumClasses,
        Strategy = options.Strategy,
        Rank = options.Rank,
        Seed = options.Seed,
    };

    public static SamConfig Config(BenchOptions options) => Spec(options).Architecture;

    public static IWorkload Inference(BenchOptions options) => new InferenceWorkload(options);

    public static IWorkload Training(BenchOptions options) => new TrainingWorkload(options);

    private static AdaptedSam CreateModel(BenchOptions options)
    {
        var model = ModelFactory.Create(Spec(options), device: TorchDevices.Parse(options.Device));
        // Non-zero B so the LoRA path does real work (SAMed initialises B to zero).
        using (torch.no_grad())
        {
            foreach (var (name, parameter) in model.TrainableParameters().Where(p => LoraSam.IsBKey(p.name)))
                parameter.normal_(0, 0.01);
        }
        return model;
    }

    private static Tensor Images(BenchOptions options) =>
        torch.rand([options.Batch, 3, options.ImageSize, options.ImageSize], device: TorchDevices.Parse(options.Device)).DetachFromDisposeScope();

    private sealed class InferenceWorkload : IWorkload
    {
        private readonly AdaptedSam model;
        private readonly Tensor images;
        private readonly int imageSize;
        private readonly Device device;

        public InferenceWorkload(BenchOptions options)
        {
            model = CreateModel(options);
            if (options.MergeLora && model is LoraSam lora)
                LoraMerge.Merge(lora);
            if (options.Bfloat16)
                model.Sam.ImageEncoder.to(ScalarType.BFloat16);
            model.eval();
            images = Images(options);
            imageSize = options.ImageSize;
            device = TorchDevices.Parse(options.Device);
        }

        public void Run()
        {
            using (GcPause.Begin())
            using (torch.no_grad())
            using (torch.NewDisposeScope())
            {
                using var output = model.Sam.Forward(images, multimaskOutput: true, imageSize);
            }
            TorchDevices.Synchronize(device);
        }

        public void Dispose()
        {
            images.Dispose();
            model.Dispose();
        }
    }

    private sealed class TrainingWorkload : IWorkload
    {
        private readonly AdaptedSam model;
        private readonly Tensor images;
        private readonly Tensor labels;
        private readonly SamedOptimizer optimizer;
        private readonly TrainingStep step;
        private readonly Device device;

        public TrainingWorkload(BenchOptions options)
        {
            model = CreateModel(options);
            TrainingPrecision.Apply(model, options.TrainingPrecision);
            model.train();
            model.Sam.ImageEncoder.ReleaseHeapInTraining = options.ReleaseHeap;
            images = Images(options);
            device = TorchDevices.Parse(options.Device);
            int lowRes = model.Sam.Config.ImageEmbeddingSize * 4;
            labels = torch.randint(0, options.NumClasses + 1, [options.Batch, lowRes, lowRes], dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
            // SAMed's AdamW: lr 0.005 (base_lr), betas (0.9, 0.999), eps 1e-8, weight_decay 0.1.
            optimizer = new AdamWOptimizer(model.TrainableParameters().Select(p => p.p), 0.005, 0.9, 0.999, 1e-8, 0.1);
            var loss = new SamedLoss(options.NumClasses + 1, 0.8);
            step = new TrainingStep(x => LowResLogits(model, x), loss, optimizer);
        }

        public void Run()
        {
            using (GcPause.Begin())
            using (torch.NewDisposeScope())
                step.Run(images, labels);
            TorchDevices.Synchronize(device);
        }

        private static Tensor LowResLogits(AdaptedSam model, Tensor images)
        {
            var (lowRes, iou) = model.ForwardLowRes(images, multimaskOutput: true);
            iou.Dispose();
            return lowRes;
        }

        public void Dispose()
        {
            optimizer.Dispose();
            images.Dispose();
            labels.Dispose();
            model.Dispose();
        }
    }
}
