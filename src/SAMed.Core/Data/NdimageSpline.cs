namespace SAMed.Data;

/// <summary>
/// The pieces of scipy.ndimage's spline interpolation that <see cref="Ndimage"/> needs, with scipy's exact
/// semantics: the cubic B-spline prefilter (ni_splines.c apply_filter; for mode 'constant' scipy filters with
/// mirror boundary initialisation and no padding), the interpolation weights (get_spline_interpolation_weights),
/// and the mirror mapping of filter taps that fall outside the array (_get_spline_boundary_mode gives mirror for
/// mode 'constant').
/// </summary>
internal static class NdimageSpline
{
    /// <summary>sqrt(3) - 2, the single pole of the cubic B-spline prefilter.</summary>
    private const double CubicPole = -0.267949192431122706472553658494127633;

    /// <summary>Prefilters a [height, width] array in place: along axis 0 (columns) first, then axis 1 (rows).</summary>
    public static void PrefilterCubic(double[] data, int height, int width)
    {
        if (height > 1)
        {
            const int block = 64;
            int blocks = (width + block - 1) / block;
            Parallel.For(0, blocks, b =>
            {
                int start = b * block;
                FilterColumns(data, height, width, start, Math.Min(block, width - start));
            });
        }
        if (width > 1)
            Parallel.For(0, height, y => FilterLine(data.AsSpan(y * width, width)));
    }

    /// <summary>
    /// The same recursion as <see cref="FilterLine"/> run down columns [first, first + count) together, a row at a
    /// time, so memory is read in order; each column sees exactly the operations FilterLine would apply to it.
    /// </summary>
    private static void FilterColumns(double[] data, int n, int width, int first, int count)
    {
        const double z = CubicPole;
        const double gain = (1.0 - z) * (1.0 - 1.0 / z);
        Span<double> Row(int i) => data.AsSpan(i * width + first, count);

        for (int i = 0; i < n; i++)
        {
            var row = Row(i);
            for (int x = 0; x < count; x++)
                row[x] *= gain;
        }

        double zn1 = Math.Pow(z, n - 1);
        var head = Row(0);
        var last = Row(n - 1);
        for (int x = 0; x < count; x++)
            head[x] = head[x] + zn1 * last[x];
        double zi = z;
        for (int i = 1; i < n - 1; i++)
        {
            var row = Row(i);
            var mirrored = Row(n - 1 - i);
            for (int x = 0; x < count; x++)
                head[x] += zi * (row[x] + zn1 * mirrored[x]);
            zi *= z;
        }
        for (int x = 0; x < count; x++)
            head[x] /= 1 - zn1 * zn1;
        for (int i = 1; i < n; i++)
        {
            var row = Row(i);
            var previous = Row(i - 1);
            for (int x = 0; x < count; x++)
                row[x] += z * previous[x];
        }

        var beforeLast = Row(n - 2);
        for (int x = 0; x < count; x++)
            last[x] = (z * beforeLast[x] + last[x]) * z / (z * z - 1);
        for (int i = n - 2; i >= 0; i--)
        {
            var row = Row(i);
            var next = Row(i + 1);
            for (int x = 0; x < count; x++)
                row[x] = z * (next[x] - row[x]);
        }
    }

    /// <summary>One line through the causal and anticausal recursions, mirror-initialised, after the gain.</summary>
    private static void FilterLine(Span<double> c)
    {
        int n = c.Length;
        const double z = CubicPole;
        const double gain = (1.0 - z) * (1.0 - 1.0 / z);
        for (int i = 0; i < n; i++)
            c[i] *= gain;

        double zi = z;
        double zn1 = Math.Pow(z, n - 1);
        c[0] = c[0] + zn1 * c[n - 1];
        for (int i = 1; i < n - 1; i++)
        {
            c[0] += zi * (c[i] + zn1 * c[n - 1 - i]);
            zi *= z;
        }
        c[0] /= 1 - zn1 * zn1;
        for (int i = 1; i < n; i++)
            c[i] += z * c[i - 1];

        c[n - 1] = (z * c[n - 2] + c[n - 1]) * z / (z * z - 1);
        for (int i = n - 2; i >= 0; i--)
            c[i] = z * (c[i + 1] - c[i]);
    }

    /// <summary>Cubic weights of the four taps starting at floor(x) - 1.</summary>
    public static void CubicWeights(double x, Span<double> weights)
    {
        x -= Math.Floor(x);
        double y = x;
        double z = 1.0 - x;
        weights[1] = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
        weights[2] = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0;
        weights[0] = z * z * z / 6.0;
        weights[3] = 1.0 - weights[0] - weights[1] - weights[2];
    }

    /// <summary>scipy's map_coordinate for mode 'mirror' applied to an integer tap index.</summary>
    public static int MirrorIndex(long index, int length)
    {
        if (length <= 1)
            return 0;
        long period = 2L * length - 2;
        if (index < 0)
        {
            index = period * (-index / period) + index;
            index = index <= 1 - length ? index + period : -index;
        }
        else if (index > length - 1)
        {
            index -= period * (index / period);
            if (index >= length)
                index = period - index;
        }
        return (int)index;
    }
}
