namespace SAMed.Data;

/// <param name="BatchSize">Samples per batch (SAMed: batch_size * n_gpu).</param>
/// <param name="Seed">Fixes the shuffle of every epoch and every sample's augmentation.</param>
/// <param name="Shuffle">A new order each epoch (SAMed's training loader shuffles).</param>
/// <param name="DropLast">Drop a last partial batch (SAMed's training loader keeps it: PyTorch's default).</param>
/// <param name="Augment">Apply the RandomGenerator's random geometry; off gives the evaluation path (resize only).</param>
/// <param name="Workers">Background threads that read and augment batches.</param>
/// <param name="Prefetch">Most batches read ahead of the consumer (bounds memory); at least Workers to keep all busy.</param>
public sealed record DataLoaderOptions(
    int BatchSize,
    ulong Seed = 1234,
    bool Shuffle = true,
    bool DropLast = false,
    bool Augment = true,
    int Workers = 2,
    int Prefetch = 4);
