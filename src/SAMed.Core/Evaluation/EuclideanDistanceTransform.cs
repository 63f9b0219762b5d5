using System.Collections.Concurrent;

namespace SAMed.Evaluation;

/// <summary>
/// Exact Euclidean distance transform on an N-dimensional grid with per-axis sampling, computed as the
/// separable squared-distance transform of Felzenszwalb and Huttenlocher (lower envelope of parabolas) in double
/// precision, one axis after the other, in parallel over the lines of each axis. Each axis adds its (d·s)² as scipy's
/// distance_transform_edt does (offset times sampling, squared, summed over the axes in order), so with unit spacing
/// the values are scipy's exactly; with spacing they are too unless two features at the same true distance round
/// differently, where the two may pick different ones.
/// </summary>
public static class EuclideanDistanceTransform
{
    /// <summary>
    /// scipy.ndimage.distance_transform_edt(input, sampling): every true (non-zero) voxel gets its distance to the
    /// nearest false (zero) voxel, every false voxel gets 0.
    /// </summary>
    public static double[] Distances(ReadOnlySpan<bool> input, VoxelGrid grid)
    {
        grid.RequireLength(input.Length, "distance transform input");
        var values = new double[input.Length];
        bool hasBackground = false;
        for (int i = 0; i < input.Length; i++)
        {
            values[i] = input[i] ? double.PositiveInfinity : 0.0;
            hasBackground |= !input[i];
        }

        if (!hasBackground)
            throw new ArgumentException("distance transform input has no zero voxel, so no distance to the background exists");
        SquaredInPlace(values, grid);
        Parallel.ForEach(Partitioner.Create(0, values.Length), range =>
        {
            for (int i = range.Item1; i < range.Item2; i++)
                values[i] = Math.Sqrt(values[i]);
        });
        return values;
    }

    /// <summary>
    /// Replaces a field that is 0 on feature voxels and +infinity elsewhere by the squared Euclidean distance (in
    /// the units of the grid spacing) from every voxel to its nearest feature voxel. Voxels stay +infinity only when
    /// there is no feature voxel at all.
    /// </summary>
    public static void SquaredInPlace(double[] values, VoxelGrid grid)
    {
        grid.RequireLength(values.Length, "squared distance field");
        for (int axis = 0; axis < grid.Rank; axis++)
        {
            int length = grid.Shape[axis];
            if (length == 1)
                continue;
            TransformAxis(values, length, grid.Strides[axis], grid.Spacing[axis]);
        }
    }

    private static void TransformAxis(double[] values, int length, long stride, double spacing)
    {
        long lineCount = values.LongLength / length;
        long blockSize = stride * length;
        long chunk = Math.Max(1, Math.Min(4096, lineCount / (Environment.ProcessorCount * 8)));
        Parallel.ForEach(Partitioner.Create(0L, lineCount, chunk), range =>
        {
            var line = new double[length];
            var result = new double[length];
            var vertices = new int[length];
            var boundaries = new double[length + 1];
            for (long index = range.Item1; index < range.Item2; index++)
            {
                long start = index / stride * blockSize + index % stride;
                for (int i = 0; i < length; i++)
                    line[i] = values[start + i * stride];
                if (LowerEnvelope(line, result, vertices, boundaries, spacing))
                    for (int i = 0; i < length; i++)
                        values[start + i * stride] = result[i];
            }
        });
    }

    /// <summary>
    /// One axis's share of a squared distance, as scipy's distance_transform_edt forms it: the offset to the nearest
    /// feature times the sampling, squared ((d·s)², summed over the axes in order, then the square root).
    /// </summary>
    internal static double Term(double offset, double spacing)
    {
        double scaled = offset * spacing;
        return scaled * scaled;
    }

    /// <summary>
    /// One-dimensional transform d(p) = min_q f(q) + ((p - q)·s)^2 over the finite samples f(q).
    /// Returns false (and leaves <paramref name="result"/> unused) when every sample is infinite.
    /// </summary>
    private static bool LowerEnvelope(double[] f, double[] result, int[] vertices, double[] boundaries, double spacing)
    {
        double weight = spacing * spacing;
        int n = f.Length;
        int k = -1;
        for (int q = 0; q < n; q++)
        {
            double fq = f[q];
            if (double.IsPositiveInfinity(fq))
                continue;
            double heightQ = fq + weight * q * q;
            if (k < 0)
            {
                k = 0;
                vertices[0] = q;
                boundaries[0] = double.NegativeInfinity;
                boundaries[1] = double.PositiveInfinity;
                continue;
            }

            double crossing;
            while (true)
            {
                int v = vertices[k];
                crossing = (heightQ - (f[v] + weight * v * v)) / (2.0 * weight * (q - v));
                if (crossing > boundaries[k])
                    break;
                k--;
            }

            k++;
            vertices[k] = q;
            boundaries[k] = crossing;
            boundaries[k + 1] = double.PositiveInfinity;
        }

        if (k < 0)
            return false;
        int j = 0;
        for (int p = 0; p < n; p++)
        {
            while (boundaries[j + 1] < p)
                j++;
            int v = vertices[j];
            result[p] = f[v] + Term(p - v, spacing);
        }

        return true;
    }
}
