namespace SAMed.Data;

/// <summary>
/// The draws synthetic data sets need (uniform, integer, Gaussian) on the project's SplitMix64 stream
/// (<see cref="DataLoaderRandom"/>), whose sequence is fixed by its seed on every platform and .NET version, so
/// synthetic data sets are reproducible byte for byte.
/// </summary>
public sealed class SyntheticRandom(ulong seed)
{
    private readonly DataLoaderRandom _bits = DataLoaderRandom.FromState(seed);
    private double? _spareGaussian;

    /// <summary>A generator for one stream (case, purpose) derived from a user seed.</summary>
    public static SyntheticRandom For(int seed, int stream, int purpose = 0) =>
        new(Mix(Mix((ulong)(uint)seed) ^ ((ulong)(uint)stream << 20) ^ (ulong)(uint)purpose));

    public ulong NextUInt64() => _bits.NextUInt64();

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => _bits.NextDouble();

    public double Uniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Uniform integer in [low, high] inclusive.</summary>
    public int Between(int low, int high) => low + (int)(NextUInt64() % (ulong)(high - low + 1));

    /// <summary>Standard normal by the Box-Muller transform.</summary>
    public double NextGaussian()
    {
        if (_spareGaussian is { } spare)
        {
            _spareGaussian = null;
            return spare;
        }
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        double radius = Math.Sqrt(-2.0 * Math.Log(u1));
        _spareGaussian = radius * Math.Sin(2 * Math.PI * u2);
        return radius * Math.Cos(2 * Math.PI * u2);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 33)) * 0xFF51AFD7ED558CCDUL;
        z = (z ^ (z >> 33)) * 0xC4CEB9FE1A85EC53UL;
        return z ^ (z >> 33);
    }
}
