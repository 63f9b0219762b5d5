namespace SAMed.Evaluation;

/// <summary>
/// medpy's __surface_distances in both directions: for every surface voxel of one mask, the Euclidean distance
/// (in spacing units) to the nearest surface voxel of the other, in C order of the voxels.
/// </summary>
/// <remarks>
/// medpy takes scipy's distance_transform_edt of the whole grid. The same exact squared distances come from the
/// separable transform (<see cref="EuclideanDistanceTransform"/>) run slice by slice: along axis 0 the squared distance
/// to the nearest surface voxel of each column is read from the surface's bits (<see cref="SurfaceColumns"/>), then the
/// in-slice axes are transformed on that one slice. The values are those of the transform of the whole box, bit for
/// bit (axis 0's lower envelope of 0/+infinity samples is the nearest sample's (d·s)²). Only the surfaces' bits (a
/// quarter byte a voxel of a deep box, see <see cref="SurfaceColumns"/>) and one slice of doubles are held, plus the distances themselves: this record's
/// arrays, or for hd95 alone at most max(64 MiB, half a byte a voxel of the box) of them (<see cref="Hausdorff95Within{T}"/>).
/// </remarks>
public sealed record SurfaceDistances(double[] ResultToReference, double[] ReferenceToResult)
{
    /// <summary>medpy.metric.binary.hd: the larger of the two directed maxima.</summary>
    public double Hausdorff => Math.Max(ResultToReference.Max(), ReferenceToResult.Max());

    /// <summary>medpy.metric.binary.hd95: numpy.percentile(hstack(both directions), 95).</summary>
    public double Hausdorff95
    {
        get
        {
            double[] all = [.. ResultToReference, .. ReferenceToResult];
            Array.Sort(all);
            return Percentile.OfSorted(all, 95);
        }
    }

    /// <summary>Both directions for two non-empty masks on the same grid.</summary>
    public static SurfaceDistances Compute(ReadOnlySpan<bool> result, ReadOnlySpan<bool> reference, VoxelGrid grid)
    {
        RequireObjects(result, reference, grid);
        return Within(result, reference, grid, BoundingBox.OfUnion(result, reference, grid), true);
    }

    private static void RequireObjects(ReadOnlySpan<bool> result, ReadOnlySpan<bool> reference, VoxelGrid grid)
    {
        grid.RequireLength(result.Length, "result mask");
        grid.RequireLength(reference.Length, "reference mask");
        if (!result.Contains(true))
            throw new ArgumentException("The first supplied array does not contain any binary object.", nameof(result));
        if (!reference.Contains(true))
            throw new ArgumentException("The second supplied array does not contain any binary object.", nameof(reference));
    }

    /// <summary>medpy.metric.binary.hd95 of two non-empty masks on the same grid (see <see cref="Hausdorff95Within{T}"/>).</summary>
    /// <param name="heldDistances">The most distances held at once; beyond, the percentile's values are selected in
    /// passes. Null: max(8 Mi, a sixteenth of the box's voxels).</param>
    public static double Hausdorff95Of(ReadOnlySpan<bool> result, ReadOnlySpan<bool> reference, VoxelGrid grid, long? heldDistances = null)
    {
        RequireObjects(result, reference, grid);
        return Hausdorff95Within(result, reference, grid, BoundingBox.OfUnion(result, reference, grid), true, heldDistances);
    }

    /// <summary>
    /// Both directions for the masks (result == value) and (reference == value), within a box that holds every voxel
    /// equal to <paramref name="value"/> in either volume (outside it both masks are empty, so surfaces and
    /// nearest-surface distances are those of the full grid).
    /// </summary>
    internal static SurfaceDistances Within<T>(ReadOnlySpan<T> result, ReadOnlySpan<T> reference, VoxelGrid grid, BoundingBox box, T value)
        where T : IEquatable<T>
    {
        var pair = SurfacePair.Within(result, reference, grid, box, value);
        return new SurfaceDistances(pair.ResultToReference(), pair.ReferenceToResult());
    }

    /// <summary>
    /// medpy's hd95 of (result == value) and (reference == value) within <paramref name="box"/> (see
    /// <see cref="Within{T}"/>), holding the distances only when they are few: numpy.percentile of the two directions'
    /// distances together. With more than <paramref name="heldDistances"/> (by default <see cref="HeldDistances"/> or
    /// one per 16 voxels of the box, whichever is more) the two values the percentile needs are selected exactly by
    /// their rank in passes over recomputed distances (<see cref="SurfacePair.ValuesAtRanks"/>), so a noisy mask costs
    /// time (usually two more passes over the surfaces) instead of 8 bytes a surface voxel.
    /// </summary>
    internal static double Hausdorff95Within<T>(
        ReadOnlySpan<T> result, ReadOnlySpan<T> reference, VoxelGrid grid, BoundingBox box, T value, long? heldDistances = null)
        where T : IEquatable<T>
    {
        var pair = SurfacePair.Within(result, reference, grid, box, value);
        long count = pair.Count;
        long held = heldDistances ?? Math.Max(HeldDistances, pair.BoxVoxels / 16);
        if (count <= held)
        {
            var all = new double[count];
            pair.FillBoth(all);
            Array.Sort(all);
            return Percentile.OfSorted(all, 95);
        }

        return Percentile.OfRanks(count, 95, (below, above) => pair.ValuesAtRanks(below, above, held));
    }

    /// <summary>Distances held for a percentile below which it is never computed by selection (64 MiB of doubles).</summary>
    internal const long HeldDistances = 8L << 20;

    /// <summary>The surfaces of two masks in one box, and the distances between them in both directions.</summary>
    private sealed class SurfacePair(SurfaceColumns result, SurfaceColumns reference, VoxelGrid crop)
    {
        /// <summary>The surfaces of (result == value) and (reference == value) inside <paramref name="box"/>.</summary>
        public static SurfacePair Within<T>(ReadOnlySpan<T> result, ReadOnlySpan<T> reference, VoxelGrid grid, BoundingBox box, T value)
            where T : IEquatable<T> =>
            new(SurfaceColumns.Of(result, grid, box, value), SurfaceColumns.Of(reference, grid, box, value), box.Crop(grid));

        /// <summary>Voxels of the box the surfaces were read in.</summary>
        public long BoxVoxels => crop.Count;

        /// <summary>Surface voxels of both masks: the number of distances.</summary>
        public long Count => result.Count + reference.Count;

        public double[] ResultToReference()
        {
            var distances = new double[result.Count];
            var sink = new ArraySink(distances);
            Directed(result, reference, crop, ref sink);
            return distances;
        }

        public double[] ReferenceToResult()
        {
            var distances = new double[reference.Count];
            var sink = new ArraySink(distances);
            Directed(reference, result, crop, ref sink);
            return distances;
        }

        /// <summary>Both directions' distances, result to reference first.</summary>
        public void FillBoth(double[] all)
        {
            var sink = new ArraySink(all);
            Visit(ref sink);
        }

        /// <summary>
        /// The distances of ranks <paramref name="below"/> and <paramref name="above"/> (0 = smallest; above is below or
        /// below + 1) among both directions, by radix selection on the bits of the doubles (for values ≥ 0 their order
        /// is the order of the bits as unsigned integers). Each pass recomputes the distances and counts, among those
        /// sharing the bits fixed so far, the next 16 bits, until the values sharing them are at most
        /// <paramref name="held"/> (or all 64 bits are fixed); one more pass collects and sorts those. When rank below
        /// is the last of them, a last pass finds the smallest distance beyond them.
        /// </summary>
        public (double Below, double Above) ValuesAtRanks(long below, long above, long held)
        {
            ulong prefix = 0;
            int fixedBits = 0;
            long rank = below, sharing;
            do
            {
                var histogram = new HistogramSink(prefix, fixedBits);
                Visit(ref histogram);
                prefix = (prefix << 16) | histogram.BucketOf(ref rank, out sharing);
                fixedBits += 16;
            }
            while (fixedBits < 64 && sharing > held);

            double value;
            double? next = null;
            if (fixedBits == 64)
            {
                value = BitConverter.UInt64BitsToDouble(prefix);
                if (rank + 1 < sharing)
                    next = value;
            }
            else
            {
                var collected = new CollectingSink(prefix, fixedBits, new double[sharing]);
                Visit(ref collected);
                Array.Sort(collected.Values);
                value = collected.Values[rank];
                if (rank + 1 < sharing)
                    next = collected.Values[rank + 1];
            }

            if (above == below)
                return (value, value);
            if (next is null)
            {
                var beyond = new SmallestBeyondSink(prefix, fixedBits);
                Visit(ref beyond);
                next = beyond.Smallest;
            }

            return (value, next.Value);
        }

        private void Visit<TSink>(ref TSink sink) where TSink : struct, IDistanceSink
        {
            Directed(result, reference, crop, ref sink);
            Directed(reference, result, crop, ref sink);
        }
    }

    /// <summary>Receives the distances of a directed pass, in C order of the from-surface's voxels.</summary>
    private interface IDistanceSink
    {
        void Add(double distance);
    }

    private struct ArraySink(double[] values) : IDistanceSink
    {
        private int next;

        public void Add(double distance) => values[next++] = distance;
    }

    /// <summary>Counts the next 16 bits of the distances whose highest <c>fixedBits</c> bits equal the prefix.</summary>
    private readonly struct HistogramSink(ulong prefix, int fixedBits) : IDistanceSink
    {
        private readonly long[] counts = new long[1 << 16];

        public void Add(double distance)
        {
            ulong bits = BitConverter.DoubleToUInt64Bits(distance);
            if (fixedBits == 0 || bits >> (64 - fixedBits) == prefix)
                counts[(int)((bits >> (48 - fixedBits)) & 0xFFFF)]++;
        }

        /// <summary>
        /// The bucket holding rank <paramref name="rank"/> among the counted values; the rank becomes its rank within
        /// the bucket, <paramref name="size"/> the bucket's count.
        /// </summary>
        public ulong BucketOf(ref long rank, out long size)
        {
            for (int bucket = 0; bucket < counts.Length; bucket++)
            {
                if (rank < counts[bucket])
                {
                    size = counts[bucket];
                    return (ulong)bucket;
                }

                rank -= counts[bucket];
            }

            throw new InvalidOperationException("rank beyond the number of distances");
        }
    }

    /// <summary>Keeps the distances whose highest <c>fixedBits</c> (16 to 48) bits equal the prefix.</summary>
    private struct CollectingSink(ulong prefix, int fixedBits, double[] values) : IDistanceSink
    {
        private int next;

        public readonly double[] Values => values;

        public void Add(double distance)
        {
            if (BitConverter.DoubleToUInt64Bits(distance) >> (64 - fixedBits) == prefix)
                values[next++] = distance;
        }
    }

    /// <summary>The smallest distance whose highest <c>fixedBits</c> (16 to 64) bits exceed the prefix.</summary>
    private struct SmallestBeyondSink(ulong prefix, int fixedBits) : IDistanceSink
    {
        public double Smallest { get; private set; } = double.PositiveInfinity;

        public void Add(double distance)
        {
            if (BitConverter.DoubleToUInt64Bits(distance) >> (64 - fixedBits) > prefix && distance < Smallest)
                Smallest = distance;
        }
    }

    /// <summary>For every voxel of <paramref name="from"/>, in C order, the distance to the nearest voxel of <paramref name="to"/>.</summary>
    private static void Directed<TSink>(SurfaceColumns from, SurfaceColumns to, VoxelGrid crop, ref TSink sink)
        where TSink : struct, IDistanceSink
    {
        var nearest = new AxisZeroNearest(to, crop.Spacing[0]);
        var slice = crop.Slice();
        var field = new double[from.Columns];
        for (int z = 0; z < from.Depth; z++)
        {
            nearest.MoveTo(z);
            if (from.SliceCounts[z] == 0)
                continue;
            nearest.SquaredDistances(z, field);
            if (slice is not null)
                EuclideanDistanceTransform.SquaredInPlace(field, slice);
            for (int column = 0; column < field.Length; column++)
                if (from.Contains(column, z))
                    sink.Add(Math.Sqrt(field[column]));
        }
    }

    /// <summary>
    /// Sweeps the slices in order keeping, per column, the surface voxels just before and at-or-after the current
    /// slice: the first pass of the separable transform, one slice at a time.
    /// </summary>
    private sealed class AxisZeroNearest
    {
        private readonly SurfaceColumns surface;
        private readonly double spacing;
        private readonly int[] previous;
        private readonly int[] next;

        public AxisZeroNearest(SurfaceColumns surface, double spacing)
        {
            this.surface = surface;
            this.spacing = spacing;
            previous = new int[surface.Columns];
            next = new int[surface.Columns];
            Array.Fill(previous, -1);
            for (int column = 0; column < next.Length; column++)
                next[column] = surface.NextAtOrAfter(column, 0);
        }

        /// <summary>Advances to slice <paramref name="z"/>; called for every slice in order.</summary>
        public void MoveTo(int z)
        {
            for (int column = 0; column < next.Length; column++)
            {
                if (next[column] >= 0 && next[column] < z)
                {
                    previous[column] = next[column];
                    next[column] = surface.NextAtOrAfter(column, z);
                }
            }
        }

        /// <summary>
        /// (d·s)² to the nearest surface voxel of each column from slice <paramref name="z"/>, +infinity for a column
        /// without one: what the lower envelope of 0/+infinity samples gives (EuclideanDistanceTransform's f(v) + (o·s)²).
        /// </summary>
        public void SquaredDistances(int z, double[] field)
        {
            for (int column = 0; column < field.Length; column++)
            {
                double best = double.PositiveInfinity;
                if (previous[column] >= 0)
                    best = Squared(z - previous[column]);
                if (next[column] >= 0)
                    best = Math.Min(best, Squared(next[column] - z));
                field[column] = best;
            }
        }

        private double Squared(double offset) => 0.0 + EuclideanDistanceTransform.Term(offset, spacing);
    }
}
