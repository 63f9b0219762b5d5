using System.Globalization;

namespace SAMed.Training.Parallel;

/// <summary>
/// How torch's DataParallel splits a batch over its devices: scatter calls <c>tensor.chunk(len(devices), dim=0)</c>
/// (torch/csrc/cuda/comm.cpp, scatter without chunk_sizes), and torch.chunk makes chunks of ceil(B / n) samples, the
/// last one smaller, and fewer than n chunks when B is small: B 3 on 2 devices gives 2 + 1, B 5 on 4 devices 2 + 2 + 1
/// (the fourth device gets nothing that step).
/// </summary>
public static class BatchScatter
{
    /// <summary>The chunk sizes, in device order (one entry per device that gets samples).</summary>
    public static long[] ChunkSizes(long batch, int devices)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(devices, 1);
        long chunk = (batch + devices - 1) / devices;
        long count = (batch + chunk - 1) / chunk;
        var sizes = new long[count];
        for (long i = 0; i < count; i++)
            sizes[i] = Math.Min(chunk, batch - i * chunk);
        return sizes;
    }

    /// <summary>"4 + 4" style.</summary>
    public static string Describe(long batch, int devices) =>
        string.Join(" + ", ChunkSizes(batch, devices).Select(s => s.ToString(CultureInfo.InvariantCulture)));
}
