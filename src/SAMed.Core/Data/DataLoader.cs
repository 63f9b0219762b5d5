namespace SAMed.Data;

/// <summary>
/// Batches a <see cref="SynapseDataset"/> like SAMed's torch DataLoader (shuffle each epoch, last partial batch
/// kept unless DropLast), reading and augmenting on background workers a bounded number of batches ahead.
/// </summary>
/// <remarks>
/// Everything random is a pure function of the seed: epoch e's order is a permutation drawn from
/// DataLoaderRandom.Derive(seed, 0, e), and the sample at position p of that order is augmented with
/// DataLoaderRandom.Derive(seed, 1, e, p). So batches do not depend on the number of workers or their timing, and
/// an epoch restarted at any batch position yields exactly the batches the uninterrupted epoch would have.
/// </remarks>
public sealed class DataLoader
{
    public DataLoader(SynapseDataset dataset, DataLoaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(options);
        if (options.BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be at least 1");
        if (options.Workers < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.Workers, "Workers must be at least 1");
        if (options.Prefetch < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.Prefetch, "Prefetch must be at least 1");
        Dataset = dataset;
        Options = options;
    }

    public SynapseDataset Dataset { get; }
    public DataLoaderOptions Options { get; }

    /// <summary>len(trainloader): ceil(N / B), or floor(N / B) with DropLast.</summary>
    public int BatchesPerEpoch => BatchCount(Dataset.Count, Options.BatchSize, Options.DropLast);

    /// <summary>len(trainloader) for <paramref name="samples"/> samples: ceil(N / B), or floor(N / B) with drop_last.</summary>
    public static int BatchCount(int samples, int batchSize, bool dropLast) => dropLast
        ? samples / batchSize
        : (samples + batchSize - 1) / batchSize;

    /// <summary>The dataset indices in the order epoch reads them.</summary>
    public int[] EpochOrder(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        return Options.Shuffle
            ? DataLoaderRandom.Derive(Options.Seed, 0, epoch).Permutation(Dataset.Count)
            : Enumerable.Range(0, Dataset.Count).ToArray();
    }

    /// <summary>
    /// The batches of an epoch from batch position startBatch on (0 for a whole epoch). Enumerate once; dispose each
    /// batch. Stopping early (or cancelling) stops the workers and disposes batches read ahead. A failure while
    /// reading a slice surfaces at that batch, with the message naming the file.
    /// </summary>
    public IEnumerable<Batch> Epoch(int epoch, int startBatch = 0, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        if (startBatch < 0 || startBatch > BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(startBatch), startBatch, $"an epoch has {BatchesPerEpoch} batches");
        return Run(epoch, EpochOrder(epoch), startBatch, cancellationToken);
    }

    /// <summary>Reads one batch on the calling thread (what a worker does).</summary>
    public Batch ReadBatch(int epoch, int batchIndex, int[] order, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(order);
        int first = batchIndex * Options.BatchSize;
        int count = Math.Min(Options.BatchSize, order.Length - first);
        var samples = new SynapseSample[count];
        for (int i = 0; i < count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int position = first + i;
            var random = Options.Augment ? DataLoaderRandom.Derive(Options.Seed, 1, epoch, position) : null;
            samples[i] = Dataset.Get(order[position], random);
        }
        return Batch.FromSamples(epoch, batchIndex, samples);
    }

    private IEnumerable<Batch> Run(int epoch, int[] order, int startBatch, CancellationToken cancellationToken)
    {
        int count = BatchesPerEpoch - startBatch;
        if (count == 0)
            yield break;
        var results = Enumerable.Range(0, count)
            .Select(_ => new TaskCompletionSource<Batch>(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var window = new SemaphoreSlim(Options.Prefetch, Options.Prefetch);
        int next = -1;

        void Work()
        {
            while (true)
            {
                try
                {
                    window.Wait(stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                int k = Interlocked.Increment(ref next);
                if (k >= count)
                {
                    window.Release();
                    return;
                }
                try
                {
                    results[k].SetResult(ReadBatch(epoch, startBatch + k, order, stop.Token));
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    results[k].SetCanceled(stop.Token);
                }
                catch (Exception e)
                {
                    results[k].SetException(e);
                }
            }
        }

        var workers = Enumerable.Range(0, Math.Min(Options.Workers, count))
            .Select(_ => Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))
            .ToArray();
        int delivered = 0;
        try
        {
            for (int k = 0; k < count; k++)
            {
                // A batch read ahead must not be delivered once the caller has cancelled.
                cancellationToken.ThrowIfCancellationRequested();
                var batch = results[k].Task.WaitAsync(cancellationToken).GetAwaiter().GetResult();
                delivered = k + 1;
                window.Release();
                yield return batch;
            }
        }
        finally
        {
            stop.Cancel();
            Task.WaitAll(workers);
            for (int k = delivered; k < count; k++)
            {
                if (results[k].Task.IsCompletedSuccessfully)
                    results[k].Task.Result.Dispose();
            }
        }
    }
}
