using SAMed.Data;
using SAMed.Evaluation;
using SAMed.IO;
using SAMed.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Training;

/// <summary>
/// Evaluates a model on held-out volumes as SAMed's test_single_volume does: every slice zoomed (order 3) to the
/// model's input size, repeated to 3 channels, argmax of the masks, zoomed back (order 0), then SAMed's per-class
/// Dice and HD95 on the whole volume.
/// </summary>
public static class HeldOutEvaluation
{
    public static EvaluationReport Evaluate(LoraSam model, int imageSize, int numClasses, string volumeDirectory, IReadOnlyList<string> names, Device device, int sliceBatch = 8)
    {
        var cases = new List<CaseEvaluation>();
        model.eval();
        try
        {
            foreach (string name in names)
            {
                string path = Path.Combine(volumeDirectory, name + ".npy.h5");
                var volume = SynapseH5.Read(path);
                var prediction = PredictVolume(model, imageSize, volume.Image, device, sliceBatch);
                var label = volume.Label.ToDouble().Select(v => (int)v).ToArray();
                var grid = new VoxelGrid(volume.Image.Shape.Select(d => (int)d).ToArray());
                cases.Add(new CaseEvaluation(name, SamedMetrics.MetricPerClass(prediction, label, grid, numClasses, $"prediction of {path}", path)));
            }
        }
        finally
        {
            model.train();
        }
        return new EvaluationReport(cases, ClassNames.For(numClasses));
    }

    /// <summary>The predicted label of every voxel of a [D, H, W] volume, flattened in C order.</summary>
    public static int[] PredictVolume(LoraSam model, int imageSize, NpyArray image, Device device, int sliceBatch = 8)
    {
        if (image.Shape.Length != 3)
            throw new ArgumentException($"a volume must be [D, H, W], got [{string.Join(", ", image.Shape)}]");
        int depth = (int)image.Shape[0], height = (int)image.Shape[1], width = (int)image.Shape[2];
        float[] pixels = image.ToFloat();
        var prediction = new int[depth * height * width];
        for (int first = 0; first < depth; first += sliceBatch)
        {
            int count = Math.Min(sliceBatch, depth - first);
            var input = new float[count * imageSize * imageSize];
            for (int i = 0; i < count; i++)
            {
                var slice = new float[height, width];
                Buffer.BlockCopy(pixels, (first + i) * height * width * sizeof(float), slice, 0, height * width * sizeof(float));
                if (height != imageSize || width != imageSize)
                    slice = Ndimage.ZoomTo(slice, imageSize, imageSize, order: 3);
                Buffer.BlockCopy(slice, 0, input, i * imageSize * imageSize * sizeof(float), imageSize * imageSize * sizeof(float));
            }

            int[] classes;
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                var batch = tensor(input, [count, 1, imageSize, imageSize]).to(device).repeat(1, 3, 1, 1);
                var output = model.Forward(batch, multimaskOutput: true, imageSize);
                classes = output.masks.argmax(1).to_type(ScalarType.Int32).cpu().data<int>().ToArray();
            }

            for (int i = 0; i < count; i++)
            {
                var out2d = new float[imageSize, imageSize];
                for (int p = 0; p < imageSize * imageSize; p++)
                    out2d[p / imageSize, p % imageSize] = classes[i * imageSize * imageSize + p];
                if (height != imageSize || width != imageSize)
                    out2d = Ndimage.ZoomTo(out2d, height, width, order: 0);
                int offset = (first + i) * height * width;
                for (int y = 0; y < height; y++)
                {
                    for (int x = 0; x < width; x++)
                        prediction[offset + y * width + x] = (int)out2d[y, x];
                }
            }
        }
        return prediction;
    }
}
