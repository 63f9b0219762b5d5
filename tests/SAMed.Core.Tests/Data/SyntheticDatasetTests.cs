using System.Diagnostics;
using SAMed.Data;
using SAMed.IO;

namespace SAMed.Tests.Data;

public sealed class SyntheticDatasetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("synthetic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void WrittenLayoutReadsBackAndPassesValidation()
    {
        var options = new SyntheticOptions();
        var layout = new SynapseLayout(Path.Combine(_dir, "data"), Path.Combine(_dir, "lists"));
        var dataset = SyntheticDataset.Write(layout, options);

        var cases = SyntheticVolumes.GenerateAll(options).ToList();
        var training = cases.Where(c => c.IsTraining).ToList();
        Assert.Equal(training.Sum(c => (int)c.Volume.Image.Shape[0]), dataset.TrainSlices.Count);
        Assert.Equal(dataset.TrainSlices, layout.ReadTrainNames());
        Assert.Equal(["case0005", "case0006"], layout.ReadTestNames());

        var first = training[0];
        int sliceSize = (int)(first.Volume.Image.Shape[1] * first.Volume.Image.Shape[2]);
        for (int k = 0; k < first.Volume.Image.Shape[0]; k++)
        {
            var arrays = Npz.Read(layout.TrainSlicePath($"case0001_slice{k:000}"), "image", "label");
            Assert.Equal([options.Height, options.Width], arrays[0].Shape.Select(d => (int)d));
            Assert.Equal(first.Volume.Image.ToFloat().AsSpan(k * sliceSize, sliceSize).ToArray(), arrays[0].ToFloat());
            Assert.Equal(first.Volume.Label.ToFloat().AsSpan(k * sliceSize, sliceSize).ToArray(), arrays[1].ToFloat());
        }
        foreach (var test in cases.Where(c => !c.IsTraining))
        {
            var volume = SynapseH5.Read(layout.TestVolumePath(test.Name));
            Assert.Equal(test.Volume.Image.Shape, volume.Image.Shape);
            Assert.Equal(test.Volume.Image.Data, volume.Image.Data);
            Assert.Equal(test.Volume.Label.Data, volume.Label.Data);
        }

        var report = DatasetValidator.Validate(layout, options.NumClasses);
        Assert.True(report.IsValid, string.Join("\n", report.Problems));
        Assert.Equal((dataset.TrainSlices.Count, 2), (report.TrainSlicesChecked, report.TestVolumesChecked));
    }

    [Fact]
    public void TrainingAndTestSplitsEachHoldEveryClass()
    {
        var options = new SyntheticOptions { TrainCases = 1, TestCases = 1, NumClasses = 5, Seed = 3 };
        var layout = new SynapseLayout(_dir);
        var dataset = SyntheticDataset.Write(layout, options);
        var trainClasses = dataset.TrainSlices
            .SelectMany(name => Npz.Read(layout.TrainSlicePath(name), "label")[0].ToFloat()).ToHashSet();
        var testClasses = SynapseH5.Read(layout.TestVolumePath("case0002")).Label.ToFloat().ToHashSet();
        Assert.Equal(Enumerable.Range(0, 6).Select(k => (float)k), trainClasses.Order());
        Assert.Equal(Enumerable.Range(0, 6).Select(k => (float)k), testClasses.Order());
    }

}

/// <summary>Runs alone (no other test of the assembly in parallel), so its own process CPU time is what it measures.</summary>
[CollectionDefinition(nameof(SyntheticSpeedTests), DisableParallelization = true)]
[Collection(nameof(SyntheticSpeedTests))]
public sealed class SyntheticSpeedTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("synthetic-speed-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void DefaultDataSetIsWrittenWellUnderASecond()
    {
        // CI smoke training writes this first. Process CPU time (not wall time) so that other programs on a shared
        // machine do not count; the fastest of three runs so that JIT and a stray GC do not count either.
        var layout = new SynapseLayout(_dir);
        var fastest = TimeSpan.MaxValue;
        using var process = Process.GetCurrentProcess();
        for (int seed = 1; seed <= 3; seed++)
        {
            process.Refresh();
            var before = process.TotalProcessorTime;
            SyntheticDataset.Write(layout, new SyntheticOptions { Seed = seed });
            process.Refresh();
            var used = process.TotalProcessorTime - before;
            fastest = used < fastest ? used : fastest;
        }
        Assert.True(fastest < TimeSpan.FromSeconds(0.5), $"default synthetic data set took {fastest.TotalMilliseconds:F0} ms of CPU");
    }
}
