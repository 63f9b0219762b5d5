using SAMed.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Inference;

/// <summary>
/// SAMed's per-slice test protocol (utils.test_single_volume) on a batch of slices: each [x, y] slice is zoomed with
/// cubic B-splines to input_size if it differs, then from there to the image size if that differs; the batch runs
/// through the model (3 channels, multimask_output, image size); labels = argmax(softmax(masks)); each label map is
/// zoomed back to [x, y] with order 0 when its size differs.
/// </summary>
public sealed class SamedSliceSegmenter : ISliceSegmenter
{
    private readonly Func<Tensor, Tensor> segmentBatch;

    /// <param name="segmentBatch">[B, S, S] float slices at the image size to int64 labels [B, S, S] (CPU).</param>
    public SamedSliceSegmenter(Func<Tensor, Tensor> segmentBatch, int numClasses, int inputSize, int imageSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageSize, 1);
        this.segmentBatch = segmentBatch;
        NumClasses = numClasses;
        InputSize = inputSize;
        ImageSize = imageSize;
    }

    public SamedSliceSegmenter(SegmentationModel model)
        : this(model.SegmentBatch, model.Config.NumClasses, model.Config.InputSize, model.Config.ImageSize)
    {
    }

    public int NumClasses { get; }

    public int InputSize { get; }

    public int ImageSize { get; }

    public IReadOnlyList<int[,]> Segment(IReadOnlyList<float[,]> slices)
    {
        if (slices.Count == 0)
            return [];
        int size = ImageSize;
        int plane = size * size;
        var batch = new float[slices.Count * plane];
        Parallel.For(0, slices.Count, i =>
        {
            var zoomed = ToModelInput(slices[i]);
            Buffer.BlockCopy(zoomed, 0, batch, i * plane * sizeof(float), plane * sizeof(float));
        });

        long[] labels;
        using (var scope = torch.NewDisposeScope())
        {
            var input = torch.tensor(batch, [slices.Count, size, size]);
            var output = segmentBatch(input);
            if (!output.shape.SequenceEqual(new long[] { slices.Count, size, size }))
                throw new InvalidOperationException($"the model returned labels [{string.Join(", ", output.shape)}] for [{slices.Count}, {size}, {size}] slices");
            labels = output.to(ScalarType.Int64).cpu().data<long>().ToArray();
        }

        var result = new int[slices.Count][,];
        Parallel.For(0, slices.Count, i =>
        {
            int height = slices[i].GetLength(0), width = slices[i].GetLength(1);
            var map = new float[size, size];
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    map[y, x] = labels[(long)i * plane + y * size + x];
            if (height != size || width != size)
                map = Ndimage.ZoomTo(map, height, width, order: 0);
            var slice = new int[height, width];
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    slice[y, x] = (int)map[y, x];
            result[i] = slice;
        });
        return result;
    }

    /// <summary>The slice as the model sees it: zoomed (order 3) to input_size, then to the image size, where sizes differ.</summary>
    public float[,] ToModelInput(float[,] slice)
    {
        int height = slice.GetLength(0), width = slice.GetLength(1);
        if (height == 0 || width == 0)
            throw new ArgumentException("cannot segment an empty slice", nameof(slice));
        var zoomed = slice;
        if (height != InputSize || width != InputSize)
            zoomed = Ndimage.ZoomTo(zoomed, InputSize, InputSize, order: 3);
        if (zoomed.GetLength(0) != ImageSize || zoomed.GetLength(1) != ImageSize)
            zoomed = Ndimage.ZoomTo(zoomed, ImageSize, ImageSize, order: 3);
        return zoomed;
    }
}
