using SAMed.Adaptation;
using SAMed.Evaluation;
using SAMed.Inference;
using SAMed.VolumeTesting;

namespace SAMed.Training;

/// <summary>A held-out evaluation of the model being trained, with its current weights (the model is back in training mode after).</summary>
internal interface IHeldOutEvaluation
{
    /// <summary>The prompts the volumes are segmented with ("box prompts"), named in the log line; null for SAMed's protocol.</summary>
    string? Prompts { get; }

    EvaluationReport Evaluate();
}

/// <summary>
/// SAMed's test protocol, exactly as `test` runs it (<see cref="SamedSliceSegmenter"/> and <see cref="VolumeTester"/>):
/// per-slice zoom to input_size then to the image size, softmax-argmax, nearest zoom back, SAMed's per-class Dice
/// and HD95 on the volume.
/// </summary>
internal sealed class SemanticHeldOut(AdaptedSam model, int numClasses, IReadOnlyList<VolumeTestItem> volumes, int sliceBatch) : IHeldOutEvaluation
{
    public string? Prompts => null;

    public EvaluationReport Evaluate()
    {
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

/// <summary>
/// The promptable mode's evaluation, as `test --prompt box` runs it (<see cref="PromptedVolumeTester"/>): each class
/// on each slice segmented from its ground-truth box, scored as SAMed scores its volumes.
/// </summary>
internal sealed class PromptedHeldOut(AdaptedSam model, int numClasses, IReadOnlyList<VolumeTestItem> volumes) : IHeldOutEvaluation
{
    public string? Prompts => "box prompts";

    public EvaluationReport Evaluate()
    {
        var device = model.Sam.parameters().First().device;
        // Not disposed: the model belongs to the trainer.
        var promptable = new PromptableModel(model.Sam, model, device, "in-memory promptable model");
        try
        {
            return new PromptedVolumeTester(promptable, new VolumeTestOptions { NumClasses = numClasses }, EvaluationPrompt.Box).Run(volumes);
        }
        finally
        {
            model.train();
        }
    }
}
