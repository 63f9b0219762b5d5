using SAMed.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Inference;

/// <summary>
/// SAMed's per-slice test protocol (utils.test_single_volume) on a batch of slices: each [x, y] slice is zoomed with
/// cubic B-splines to input_size if it differs, then from there to the image size if that differs; the batch runs
/// through the model (3 channels, multimask_output, image size); labels = argmax(softmax(masks)); each label map is
/// zoomed back to [x, y] with order 0 when its size differs. Colour images are zoomed channel by channel.
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

    public IReadOnlyList<int[,]> Segment(IReadOnlyList<float[,]> slices) => Segment([.. slices.Select(slice => new[] { slice })]);

    /// <summary>
    /// Grey images (one plane each) go to the model as [B, S, S] and are repeated to 3 channels there; a batch with any
    /// colour image goes as [B, 3, S, S], grey ones in it repeated here. Every channel is zoomed as a grey slice is.
    /// </summary>
    public IReadOnlyList<int[,]> Segment(IReadOnlyList<float[][,]> images)
    {
        if (images.Count == 0)
            return [];
        if (images.Any(planes => planes.Length is not (1 or 3)))
            throw new ArgumentException("images have 1 (grey) or 3 (colour) channels", nameof(images));
        int size = ImageSize;
        int plane = size * size;
        bool colour = images.Any(planes => planes.Length == 3);
        int channels = colour ? 3 : 1;
        var batch = new float[images.Count * channels * plane];
        Parallel.For(0, images.Count, i =>
        {
            var zoomed = images[i].Select(ToModelInput).ToArray();
            for (int c = 0; c < channels; c++)
                Buffer.BlockCopy(zoomed[zoomed.Length == 1 ? 0 : c], 0, batch, (i * channels + c) * plane * sizeof(float), plane * sizeof(float));
        });

        long[] labels;
        using (var scope = torch.NewDisposeScope())
        {
            var input = colour
                ? torch.tensor(batch, [images.Count, 3, size, size])
                : torch.tensor(batch, [images.Count, size, size]);
            var output = segmentBatch(input);
            if (!output.shape.SequenceEqual(new long[] { images.Count, size, size }))
                throw new InvalidOperationException($"the model returned labels [{string.Join(", ", output.shape)}] for [{images.Count}, {size}, {size}] slices");
            labels = output.to(ScalarType.Int64).cpu().data<long>().ToArray();
        }

        var result = new int[images.Count][,];
        Parallel.For(0, images.Count, i =>
        {
            int height = images[i][0].GetLength(0), width = images[i][0].GetLength(1);
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
