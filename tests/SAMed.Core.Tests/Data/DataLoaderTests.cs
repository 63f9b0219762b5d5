using SAMed.Data;
using TorchSharp;

namespace SAMed.Tests.Data;

public class DataLoaderTests
{
    private static SynapseDataset Dataset(SyntheticSlices slices) =>
        new(slices.DataDirectory, slices.ListFile, new RandomGenerator(16, 4));

    private sealed record Snapshot(int Index, string[] Names, float[] Image, long[] Label, long[] LowRes);

    private static List<Snapshot> Read(IEnumerable<Batch> batches)
    {
        var result = new List<Snapshot>();
        foreach (var batch in batches)
        {
            using (batch)
            {
                result.Add(new Snapshot(batch.Index, batch.CaseNames.ToArray(), batch.Image.data<float>().ToArray(),
                    batch.Label.data<long>().ToArray(), batch.LowResLabel.data<long>().ToArray()));
            }
        }
        return result;
    }

    private static void AssertSame(IReadOnlyList<Snapshot> expected, IReadOnlyList<Snapshot> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Index, actual[i].Index);
            Assert.Equal(expected[i].Names, actual[i].Names);
            Assert.Equal(expected[i].Image, actual[i].Image);
            Assert.Equal(expected[i].Label, actual[i].Label);
            Assert.Equal(expected[i].LowRes, actual[i].LowRes);
        }
    }

    [Fact]
    public void BatchesHaveSamedsShapesAndTypesAndKeepTheLastPartialBatch()
    {
        using var slices = new SyntheticSlices(10);
        var loader = new DataLoader(Dataset(slices), new DataLoaderOptions(BatchSize: 4));
        Assert.Equal(3, loader.BatchesPerEpoch);
        var sizes = new List<long>();
        foreach (var batch in loader.Epoch(0))
        {
            using (batch)
            {
                long b = batch.Count;
                sizes.Add(b);
                Assert.Equal([b, 3, 16, 16], batch.Image.shape);
                Assert.Equal(torch.ScalarType.Float32, batch.Image.dtype);
                Assert.Equal([b, 16, 16], batch.Label.shape);
                Assert.Equal(torch.ScalarType.Int64, batch.Label.dtype);
                Assert.Equal([b, 4, 4], batch.LowResLabel.shape);
                Assert.Equal(torch.ScalarType.Int64, batch.LowResLabel.dtype);
                using var scope = torch.NewDisposeScope();
                Assert.True(batch.Image[.., 0].eq(batch.Image[.., 2]).all().item<bool>());
            }
        }
        Assert.Equal([4L, 4, 2], sizes);
        Assert.Equal(2, new DataLoader(Dataset(slices), new DataLoaderOptions(BatchSize: 4, DropLast: true)).BatchesPerEpoch);
    }

    [Fact]
    public void EverySampleIsSeenOncePerEpochInAnEpochDependentOrder()
    {
        using var slices = new SyntheticSlices(13);
        var loader = new DataLoader(Dataset(slices), new DataLoaderOptions(BatchSize: 3, Workers: 3));
        var epoch0 = Read(loader.Epoch(0)).SelectMany(s => s.Names).ToArray();
        var epoch1 = Read(loader.Epoch(1)).SelectMany(s => s.Names).ToArray();
        Assert.Equal(slices.Names.Order(), epoch0.Order());
        Assert.Equal(slices.Names.Order(), epoch1.Order());
        Assert.NotEqual(epoch0, epoch1);
        Assert.NotEqual(slices.Names, epoch0);
        Assert.Equal(loader.EpochOrder(1).Select(i => slices.Names[i]), epoch1);

        var unshuffled = new DataLoader(Dataset(slices), new DataLoaderOptions(BatchSize: 3, Shuffle: false, Augment: false));
        Assert.Equal(slices.Names, Read(unshuffled.Epoch(4)).SelectMany(s => s.Names));
    }

    [Fact]
    public void SameSeedGivesSameBatchesWhateverTheWorkerCount()
    {
        using var slices = new SyntheticSlices(9);
        var one = Read(new DataLoader(Dataset(slices), new DataLoaderOptions(BatchSize: 2, Seed: 5, Workers: 1, Prefetch: 1)).Epoch(2));
        var many = Read(new DataLoader(Dataset(slices), new DataLoaderOptions(BatchSize: 2, Seed: 5, Workers: 4, Prefetch: 6)).Epoch(2));
        AssertSame(one, many);
        var otherSeed = Read(new DataLoader(Dataset(slices), new DataLoaderOptions(BatchSize: 2, Seed: 6)).Epoch(2));
        Assert.NotEqual(one.SelectMany(s => s.Names), otherSeed.SelectMany(s => s.Names));
    }

    [Fact]
    public void ResumingMidEpochYieldsTheRemainingBatchesUnchanged()
    {
        using var slices = new SyntheticSlices(11);
        var options = new DataLoaderOptions(BatchSize: 3, Seed: 77, Workers: 2);
        var full = Read(new DataLoader(Dataset(slices), options).Epoch(3));
        var resumed = Read(new DataLoader(Dataset(slices), options).Epoch(3, startBatch: 2));
        AssertSame(full.Skip(2).ToList(), resumed);
        Assert.Empty(Read(new DataLoader(Dataset(slices), options).Epoch(3, startBatch: 4)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(Dataset(slices), options).Epoch(3, startBatch: 5));
    }

    [Fact]
    public void AWorkerFailureSurfacesAtItsBatchNamingTheFile()
    {
        using var slices = new SyntheticSlices(8);
        var loader = new DataLoader(Dataset(slices), new DataLoaderOptions(BatchSize: 2, Seed: 3, Workers: 2, Prefetch: 3));
        var order = loader.EpochOrder(0);
        int brokenPosition = 5;
        string broken = slices.PathOf(slices.Names[order[brokenPosition]]);
        File.WriteAllText(broken, "not a zip");

        var delivered = new List<int>();
        var error = Assert.ThrowsAny<Exception>(() =>
        {
            foreach (var batch in loader.Epoch(0))
            {
                using (batch)
                    delivered.Add(batch.Index);
            }
        });
        Assert.Contains(broken, error.Message);
        Assert.Equal([0, 1], delivered);
    }

    [Fact]
    public void WorkersReadAtMostPrefetchBatchesAhead()
    {
        // After batch 0 is handed out, only batches 1 and 2 (Prefetch 2) may have been read. Deleting every file
        // then must make batch 3 fail, since it cannot be started before the consumer takes batch 1.
        using var slices = new SyntheticSlices(10);
        var loader = new DataLoader(Dataset(slices), new DataLoaderOptions(BatchSize: 2, Workers: 3, Prefetch: 2));
        var delivered = new List<int>();
        var error = Assert.ThrowsAny<Exception>(() =>
        {
            foreach (var batch in loader.Epoch(0))
            {
                using (batch)
                    delivered.Add(batch.Index);
                if (batch.Index == 0)
                {
                    Thread.Sleep(300);
                    foreach (string name in slices.Names)
                        File.Delete(slices.PathOf(name));
                }
            }
        });
        Assert.Contains(slices.DataDirectory, error.Message);
        Assert.Equal(0, delivered[0]);
        Assert.InRange(delivered.Count, 1, 3);
    }

    [Fact]
    public void StoppingEarlyOrCancellingEndsTheEpochCleanly()
    {
        using var slices = new SyntheticSlices(12);
        var loader = new DataLoader(Dataset(slices), new DataLoaderOptions(BatchSize: 2, Workers: 2, Prefetch: 2));
        foreach (var batch in loader.Epoch(0))
        {
            batch.Dispose();
            break;
        }

        using var cancel = new CancellationTokenSource();
        int seen = 0;
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            foreach (var batch in loader.Epoch(1, cancellationToken: cancel.Token))
            {
                batch.Dispose();
                if (++seen == 2)
                    cancel.Cancel();
            }
        });
        Assert.Equal(2, seen);
        Assert.Equal(6, Read(loader.Epoch(1)).Count);
    }
}
