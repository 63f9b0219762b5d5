using SAMed.Benchmarks;

namespace SAMed.Tests.Benchmarks;

/// <summary>The bench on the tiny model: its parts, and the memory child's report after every run.</summary>
public class BenchRunnerTests
{
    private static readonly BenchOptions Tiny = new()
    {
        ModelType = "tiny",
        ImageSize = 64,
        Warmup = 1,
        Iterations = 1,
        MatmulSize = 64,
        MemoryRuns = 3,
        Data = false,
    };

    [Fact]
    public void MemoryChildReportsItsPeakAfterEveryRun()
    {
        using var output = new StringWriter();
        BenchRunner.RunMemoryChild(Tiny, MemoryWorkload.Training, output);
        var peaks = PeakMemory.Parse(output.ToString());
        Assert.Equal([1, 2, 3], peaks.Select(p => p.Runs));
        Assert.All(peaks, p => Assert.True(p.Bytes > 0, $"peak after {p.Runs} runs is {p.Bytes}"));
        Assert.True(peaks.Zip(peaks.Skip(1)).All(pair => pair.First.Bytes <= pair.Second.Bytes), "VmHWM never falls");
    }

    [Fact]
    public void ParseIgnoresOtherLinesAndKeepsTheOrder()
    {
        string output = $"loading\n{PeakMemory.Marker}1:100\nwarning: x\n{PeakMemory.Marker}2:250\n";
        Assert.Equal([(1, 100L), (2, 250L)], PeakMemory.Parse(output));
        Assert.Empty(PeakMemory.Parse("nothing here"));
    }

    [Fact]
    public void ResultAndTableGiveTheEarlyAndTheLastPeak()
    {
        IReadOnlyList<(int Runs, long Bytes)> FakeChild(MemoryWorkload workload) =>
            workload == MemoryWorkload.Training ? [(1, 1L << 30), (2, 3L << 29), (3, 2L << 30)] : [(1, 1L << 29), (2, 1L << 29), (3, 1L << 29)];

        var result = BenchRunner.Run(Tiny, FakeChild);
        Assert.Equal(3L << 29, result.TrainingPeakEarlyBytes);
        Assert.Equal(2L << 30, result.TrainingPeakBytes);
        Assert.Equal(1L << 29, result.InferencePeakBytes);
        Assert.Equal(3, result.MemoryRuns);
        Assert.True(result.InferenceForward.Median > 0 && result.TrainingStep.Median > 0 && result.MatmulGflops > 0);

        string table = BenchReport.Table(result);
        string trainingLine = table.Split('\n').Single(l => l.StartsWith("peak memory training", StringComparison.Ordinal));
        Assert.EndsWith("2.000 GiB after 3 runs (1.500 GiB after 2)", trainingLine.TrimEnd(), StringComparison.Ordinal);
    }
}
