using SAMed.Data;

namespace SAMed.Benchmarks;

/// <summary>
/// Data loading plus augmentation per batch: synthetic CT-like slices at the image size are written as SAMed's
/// train_npz files to a temporary folder, then a <see cref="DataLoader"/> over a <see cref="SynapseDataset"/> reads,
/// augments and batches them on the calling thread (the work one loader worker does per batch).
/// </summary>
public static class DataBenchmark
{
    public static SampleStats Measure(BenchOptions options, int lowResSize)
    {
        string root = Path.Combine(Path.GetTempPath(), $"samed-bench-data-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            int slices = Math.Max(8, 2 * options.Batch);
            var layout = new SynapseLayout(root);
            SyntheticDataset.Write(layout, new SyntheticOptions
            {
                NumClasses = options.NumClasses,
                TrainCases = 1,
                TestCases = 0,
                Height = options.ImageSize,
                Width = options.ImageSize,
                MinSlices = slices,
                MaxSlices = slices,
                Seed = options.Seed,
            });
            var dataset = new SynapseDataset(layout.TrainDir, layout.TrainListPath, new RandomGenerator(options.ImageSize, lowResSize),
                new SynapseDatasetOptions(NumClasses: options.NumClasses));
            var loader = new DataLoader(dataset, new DataLoaderOptions(options.Batch, Seed: (ulong)options.Seed, Workers: 1, Prefetch: 1));
            int epoch = 0, batchIndex = 0;
            var order = loader.EpochOrder(epoch);
            return SampleStats.Measure(options.Warmup, options.Iterations, () =>
            {
                if (batchIndex >= loader.BatchesPerEpoch)
                    (epoch, batchIndex, order) = (epoch + 1, 0, loader.EpochOrder(epoch + 1));
                using var batch = loader.ReadBatch(epoch, batchIndex++, order);
            });
        }
        finally
        {
            if (Directory.Exists(root))
                Directory.Delete(root, recursive: true);
        }
    }
}
