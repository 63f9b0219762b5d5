namespace SAMed.Data;

/// <summary>
/// The project's own deterministic random stream (SplitMix64), used for shuffling and augmentation instead of
/// numpy's Mersenne Twister, whose stream we do not reproduce. The same seed and keys always give the same
/// numbers on every platform and .NET version. Streams for an epoch or a sample are derived from
/// (seed, keys...) by hashing, so they do not depend on which worker thread draws them or in what order.
/// </summary>
public sealed class DataLoaderRandom
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;
    private ulong state;

    public DataLoaderRandom(ulong seed) => state = Mix(seed);

    /// <summary>A stream that starts from exactly this SplitMix64 state (the seed is used unmixed).</summary>
    internal static DataLoaderRandom FromState(ulong state) => new(0) { state = state };

    /// <summary>An independent stream identified by a seed and a path of keys (e.g. epoch, sample position).</summary>
    public static DataLoaderRandom Derive(ulong seed, params long[] keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ulong h = Mix(seed ^ 0x5AD5EED5AD5EED5AUL);
        foreach (long key in keys)
            h = Mix(h + Golden + unchecked((ulong)key) * 0xD1B54A32D192ED03UL);
        return new DataLoaderRandom(h);
    }

    public ulong NextUInt64()
    {
        state = unchecked(state + Golden);
        return Mix(state);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits, like Python's random.random().</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [minInclusive, maxExclusive), like numpy.random.randint(low, high); unbiased.</summary>
    public int NextInt(int minInclusive, int maxExclusive)
    {
        if (maxExclusive <= minInclusive)
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), $"empty range [{minInclusive}, {maxExclusive})");
        ulong range = (ulong)((long)maxExclusive - minInclusive);
        ulong limit = ulong.MaxValue - ulong.MaxValue % range;
        ulong draw;
        do
        {
            draw = NextUInt64();
        } while (draw >= limit);
        return (int)(minInclusive + (long)(draw % range));
    }

    /// <summary>A permutation of 0..count-1 (Fisher-Yates).</summary>
    public int[] Permutation(int count)
    {
        var order = Enumerable.Range(0, count).ToArray();
        for (int i = count - 1; i > 0; i--)
        {
            int j = NextInt(0, i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    private static ulong Mix(ulong z)
    {
        unchecked
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
