using System.Collections.Concurrent;
using SAMed.IO;

namespace SAMed.Tests.IO;

/// <summary>Read ahead, process in order, write behind; a failure finishes the item being written and drops the read ahead.</summary>
public class FilePipelineTests
{
    [Fact]
    public void ItemsAreProcessedInOrderWithTheNextReadBeforeAndThePreviousWrittenDuringTheWork()
    {
        var events = new ConcurrentQueue<string>();
        var written = new ConcurrentDictionary<int, int>();
        FilePipeline.Run(
            3,
            startReading: i =>
            {
                events.Enqueue($"start reading {i}");
                return Task.FromResult(i * 10);
            },
            process: (i, input) =>
            {
                events.Enqueue($"process {i}");
                return input + 1;
            },
            write: (i, output) => written[i] = output,
            waitingForOutput: i => events.Enqueue($"wait for writing {i}"));

        Assert.Equal(new Dictionary<int, int> { [0] = 1, [1] = 11, [2] = 21 }, written.ToDictionary());
        Assert.Equal(
            ["start reading 0", "start reading 1", "process 0", "start reading 2", "process 1", "wait for writing 0", "process 2", "wait for writing 1", "wait for writing 2"],
            events);
    }

    [Fact]
    public void ATaskNotYetStartedRunsOnTheCallingThreadWhenNeeded()
    {
        int caller = Environment.CurrentManagedThreadId;
        var readers = new List<int>();
        FilePipeline.Run(
            2,
            startReading: i => new Task<int>(() =>
            {
                readers.Add(Environment.CurrentManagedThreadId);
                return i;
            }),
            process: (i, input) => input,
            write: (_, _) => { });
        Assert.Equal([caller, caller], readers);
    }

    [Fact]
    public void AFailureFinishesTheWriteInProgressAndThrowsTheFirstError()
    {
        var written = new ConcurrentBag<int>();
        var error = Assert.Throws<InvalidDataException>(() => FilePipeline.Run(
            4,
            startReading: Task.FromResult,
            process: (i, input) => i == 1 ? throw new InvalidDataException($"bad item {i}") : input,
            write: (i, _) =>
            {
                Thread.Sleep(50);
                written.Add(i);
            }));
        Assert.Equal("bad item 1", error.Message);
        Assert.Equal([0], written);
    }

    [Fact]
    public void AReadingErrorSurfacesWhenItsItemIsNeeded()
    {
        var processed = new List<int>();
        var error = Assert.Throws<FileNotFoundException>(() => FilePipeline.Run(
            3,
            startReading: i => i == 1 ? Task.FromException<int>(new FileNotFoundException("missing 1")) : Task.FromResult(i),
            process: (i, input) =>
            {
                processed.Add(i);
                return input;
            },
            write: (_, _) => { }));
        Assert.Equal("missing 1", error.Message);
        Assert.Equal([0], processed);
    }
}
