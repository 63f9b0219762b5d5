namespace SAMed.Data;

/// <summary>
/// scipy.ndimage.zoom and scipy.ndimage.rotate on 2D float arrays, reproducing scipy's results (mode 'constant',
/// cval 0, prefilter on, grid_mode off), as SAMed's RandomGenerator and test_single_volume call them.
/// </summary>
/// <remarks>
/// Zoom maps output index k to input coordinate k * (in - 1) / (out - 1) (1 when out is 1). With mode 'constant' a
/// coordinate outside [0, in - 1] gives 0, which scipy also does when rounding puts the last coordinate a hair
/// past the edge. Order 3 prefilters with mirror boundaries and reads taps beyond the edge mirrored (scipy's
/// spline boundary for 'constant'); order 0 takes the sample at floor(coordinate + 0.5).
/// The work is separable: per-axis taps and weights are computed once, then rows are processed in parallel.
/// </remarks>
public static class Ndimage
{
    /// <summary>scipy's output shape for a zoom: int(round(size * zoom)) with Python's round-half-to-even.</summary>
    public static (int Height, int Width) ZoomOutputShape(int height, int width, double zoomY, double zoomX) =>
        (OutputLength(height, zoomY), OutputLength(width, zoomX));

    /// <summary>scipy.ndimage.zoom(input, (zoomY, zoomX), order=order) for order 0 or 3.</summary>
    public static float[,] Zoom(float[,] input, double zoomY, double zoomX, int order)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (order is not (0 or 3))
            throw new ArgumentOutOfRangeException(nameof(order), order, "zoom supports spline order 0 (nearest) or 3 (cubic)");
        if (!double.IsFinite(zoomY) || !double.IsFinite(zoomX) || zoomY <= 0 || zoomX <= 0)
            throw new ArgumentOutOfRangeException(nameof(zoomY), $"zoom factors must be finite and positive, got ({zoomY}, {zoomX})");
        int height = input.GetLength(0), width = input.GetLength(1);
        var (outHeight, outWidth) = ZoomOutputShape(height, width, zoomY, zoomX);
        if (zoomY == 1 && zoomX == 1)
            return (float[,])input.Clone();
        if (height == 0 || width == 0 || outHeight == 0 || outWidth == 0)
            return new float[outHeight, outWidth];

        var rows = AxisTaps.ForZoom(height, outHeight, order);
        var columns = AxisTaps.ForZoom(width, outWidth, order);
        return order == 0 ? ZoomNearest(input, rows, columns) : ZoomCubic(input, rows, columns);
    }

    /// <summary>
    /// Zooms a [H, W] slice to [height, width] as SAMed does: zoom(x, (height / H, width / W), order).
    /// Order 3 for images, 0 for labels and predictions.
    /// </summary>
    public static float[,] ZoomTo(float[,] input, int height, int width, int order)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (height <= 0 || width <= 0)
            throw new ArgumentOutOfRangeException(nameof(height), $"target size must be positive, got [{height}, {width}]");
        if (input.GetLength(0) == 0 || input.GetLength(1) == 0)
            throw new ArgumentException("cannot zoom an empty array", nameof(input));
        return Zoom(input, (double)height / input.GetLength(0), (double)width / input.GetLength(1), order);
    }

    /// <summary>
    /// scipy.ndimage.zoom(input, (zoomY, zoomX), order=0) for any element type (e.g. long labels or predictions):
    /// the values are copied, never interpolated, so integer labels stay exact.
    /// </summary>
    public static T[,] ZoomNearest<T>(T[,] input, double zoomY, double zoomX)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!double.IsFinite(zoomY) || !double.IsFinite(zoomX) || zoomY <= 0 || zoomX <= 0)
            throw new ArgumentOutOfRangeException(nameof(zoomY), $"zoom factors must be finite and positive, got ({zoomY}, {zoomX})");
        int height = input.GetLength(0), width = input.GetLength(1);
        var (outHeight, outWidth) = ZoomOutputShape(height, width, zoomY, zoomX);
        if (height == 0 || width == 0 || outHeight == 0 || outWidth == 0)
            return new T[outHeight, outWidth];
        return ZoomNearest(input, AxisTaps.ForZoom(height, outHeight, 0), AxisTaps.ForZoom(width, outWidth, 0));
    }

    /// <summary>Nearest zoom of a [H, W] array to [height, width] as SAMed calls it: zoom(x, (height / H, width / W), order=0).</summary>
    public static T[,] ZoomNearestTo<T>(T[,] input, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (height <= 0 || width <= 0)
            throw new ArgumentOutOfRangeException(nameof(height), $"target size must be positive, got [{height}, {width}]");
        if (input.GetLength(0) == 0 || input.GetLength(1) == 0)
            throw new ArgumentException("cannot zoom an empty array", nameof(input));
        return ZoomNearest(input, (double)height / input.GetLength(0), (double)width / input.GetLength(1));
    }

    /// <summary>scipy.ndimage.rotate(input, angle, order=0, reshape=False): nearest sampling about the centre, 0 outside.</summary>
    public static float[,] Rotate(float[,] input, double angleDegrees)
    {
        ArgumentNullException.ThrowIfNull(input);
        int height = input.GetLength(0), width = input.GetLength(1);
        double radians = angleDegrees * (Math.PI / 180.0);
        double c = Math.Cos(radians), s = Math.Sin(radians);
        // Output (o0, o1) samples input (m00 o0 + m01 o1 + shift0, m10 o0 + m11 o1 + shift1), rot = [[c, s], [-s, c]].
        double m00 = c, m01 = s, m10 = -s, m11 = c;
        double center0 = (height - 1) / 2.0, center1 = (width - 1) / 2.0;
        double shift0 = center0 - (m00 * center0 + m01 * center1);
        double shift1 = center1 - (m10 * center0 + m11 * center1);

        var output = new float[height, width];
        Parallel.For(0, height, o0 =>
        {
            for (int o1 = 0; o1 < width; o1++)
            {
                double i0 = shift0;
                i0 += o0 * m00;
                i0 += o1 * m01;
                double i1 = shift1;
                i1 += o0 * m10;
                i1 += o1 * m11;
                if (i0 < 0 || i0 > height - 1 || i1 < 0 || i1 > width - 1)
                    continue;
                output[o0, o1] = input[(int)Math.Floor(i0 + 0.5), (int)Math.Floor(i1 + 0.5)];
            }
        });
        return output;
    }

    private static int OutputLength(int length, double zoom) =>
        checked((int)Math.Round(length * zoom, MidpointRounding.ToEven));

    private static T[,] ZoomNearest<T>(T[,] input, AxisTaps rows, AxisTaps columns)
    {
        var output = new T[rows.OutputLength, columns.OutputLength];
        Parallel.For(0, rows.OutputLength, y =>
        {
            if (rows.Outside[y])
                return;
            int sourceRow = rows.Taps[y];
            for (int x = 0; x < columns.OutputLength; x++)
            {
                if (!columns.Outside[x])
                    output[y, x] = input[sourceRow, columns.Taps[x]];
            }
        });
        return output;
    }

    private static float[,] ZoomCubic(float[,] input, AxisTaps rows, AxisTaps columns)
    {
        int height = input.GetLength(0), width = input.GetLength(1);
        int outHeight = rows.OutputLength, outWidth = columns.OutputLength;
        var coefficients = new double[height * width];
        var flat = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref input[0, 0], height * width);
        for (int i = 0; i < coefficients.Length; i++)
            coefficients[i] = flat[i];
        NdimageSpline.PrefilterCubic(coefficients, height, width);

        // Along the width first: every input row resampled to the output columns.
        var across = new double[height * outWidth];
        Parallel.For(0, height, y =>
        {
            var row = coefficients.AsSpan(y * width, width);
            var target = across.AsSpan(y * outWidth, outWidth);
            for (int x = 0; x < outWidth; x++)
            {
                int t = x * 4;
                target[x] = columns.Weights[t] * row[columns.Taps[t]] + columns.Weights[t + 1] * row[columns.Taps[t + 1]]
                    + columns.Weights[t + 2] * row[columns.Taps[t + 2]] + columns.Weights[t + 3] * row[columns.Taps[t + 3]];
            }
        });

        var output = new float[outHeight, outWidth];
        Parallel.For(0, outHeight, y =>
        {
            if (rows.Outside[y])
                return;
            int t = y * 4;
            var r0 = across.AsSpan(rows.Taps[t] * outWidth, outWidth);
            var r1 = across.AsSpan(rows.Taps[t + 1] * outWidth, outWidth);
            var r2 = across.AsSpan(rows.Taps[t + 2] * outWidth, outWidth);
            var r3 = across.AsSpan(rows.Taps[t + 3] * outWidth, outWidth);
            double w0 = rows.Weights[t], w1 = rows.Weights[t + 1], w2 = rows.Weights[t + 2], w3 = rows.Weights[t + 3];
            for (int x = 0; x < outWidth; x++)
            {
                if (!columns.Outside[x])
                    output[y, x] = (float)(w0 * r0[x] + w1 * r1[x] + w2 * r2[x] + w3 * r3[x]);
            }
        });
        return output;
    }

    /// <summary>For each output index along one axis: whether it falls outside (cval), its taps and their weights.</summary>
    private sealed class AxisTaps
    {
        public required int OutputLength { get; init; }
        public required bool[] Outside { get; init; }
        public required int[] Taps { get; init; }
        public required double[] Weights { get; init; }

        public static AxisTaps ForZoom(int inputLength, int outputLength, int order)
        {
            int span = order + 1;
            double ratio = outputLength > 1 ? (double)(inputLength - 1) / (outputLength - 1) : 1.0;
            var outside = new bool[outputLength];
            var taps = new int[outputLength * span];
            var weights = new double[outputLength * span];
            for (int k = 0; k < outputLength; k++)
            {
                double coordinate = k * ratio;
                if (coordinate < 0 || coordinate > inputLength - 1)
                {
                    outside[k] = true;
                    continue;
                }
                long start = order == 0 ? (long)Math.Floor(coordinate + 0.5) : (long)Math.Floor(coordinate) - 1;
                for (int j = 0; j < span; j++)
                    taps[k * span + j] = NdimageSpline.MirrorIndex(start + j, inputLength);
                if (order == 3)
                    NdimageSpline.CubicWeights(coordinate, weights.AsSpan(k * span, span));
                else
                    weights[k] = 1.0;
            }
            return new AxisTaps { OutputLength = outputLength, Outside = outside, Taps = taps, Weights = weights };
        }
    }
}
