using SAMed.Adaptation;
using SAMed.Evaluation;
using SAMed.Inference;
using static TorchSharp.torch;

namespace SAMed.Training;

/// <summary>
/// Evaluates a model just trained on its held-out volumes with SAMed's test protocol, exactly as `test` runs it
/// (<see cref="SamedSliceSegmenter"/> and <see cref="VolumeTester"/>): per-slice zoom to input_size then to the image
/// size, softmax-argmax, nearest zoom back, SAMed's per-class Dice and HD95 on the volume.
/// </summary>
public static class HeldOutEvaluation
{
    public static EvaluationReport Evaluate(AdaptedSam model, int numClasses, string volumeDirectory, IReadOnlyList<string> names, int sliceBatch = 8)
    {
        var volumes = names.Select(name =>
        {
            string path = Path.Combine(volumeDirectory, name + ".npy.h5");
            return VolumeTestItem.H5(name, path);
        }).ToList();
        var config = new InferenceConfig { Model = model.Sam.Config, ModelType = "custom", Strategy = model.Strategy, LoraRank = (model as Lora.LoraSam)?.Rank ?? 0 };
        // Not disposed: the model belongs to the trainer.
        var segmentation = SegmentationModel.FromModules(config, model.Sam, model);
        try
        {
            var tester = new VolumeTester(new SamedSliceSegmenter(segmentation), new VolumeTestOptions { NumClasses = numClasses, BatchSize = sliceBatch });
            return tester.Run(volumes);
        }
        finally
        {
            model.train();
        }
    }
}
