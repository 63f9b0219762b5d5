namespace SAMed.IO;

/// <summary>
/// Runs a list of files through read, process and write with the files' input and output overlapping the work:
/// while item i is processed on the calling thread, item i + 1 is being read and item i - 1 written on the thread
/// pool. Reading is started by the caller's <c>startReading</c> on the calling thread, so it can allocate its large
/// arrays there (see <see cref="NiftiReader.ReadInBackground"/>): a forward pass on that thread holds off the garbage
/// collector, and an allocation on another thread must not end that pause. Where reading cannot be split so (a chunked
/// h5 volume, see <see cref="SynapseH5Reader.AllocatesAsItReads"/>), <c>startReading</c> returns a task not yet started:
/// it runs on the calling thread when its item is needed.
/// </summary>
public static class FilePipeline
{
    /// <summary>
    /// Processes items 0..count-1 in order. A failure stops the run: an item being written is finished (it is
    /// complete), a read ahead is dropped, and the first error is thrown.
    /// </summary>
    /// <param name="startReading">Starts reading item i (called on the calling thread, item i + 1 while item i is processed).</param>
    /// <param name="process">Item i's work on the calling thread.</param>
    /// <param name="write">Item i's output, run on the thread pool while item i + 1 is processed.</param>
    /// <param name="waitingForInput">Called with i before waiting for item i's reading to end.</param>
    /// <param name="waitingForOutput">Called with i before waiting for item i's writing to end (after item i + 1 is processed, or at the end).</param>
    public static void Run<TInput, TOutput>(
        int count,
        Func<int, Task<TInput>> startReading,
        Func<int, TInput, TOutput> process,
        Action<int, TOutput> write,
        Action<int>? waitingForInput = null,
        Action<int>? waitingForOutput = null)
    {
        if (count == 0)
            return;
        Task<TInput>? reading = startReading(0);
        Task? writing = null;
        try
        {
            for (int i = 0; i < count; i++)
            {
                waitingForInput?.Invoke(i);
                if (reading!.Status == TaskStatus.Created)
                    reading.RunSynchronously();
                var input = reading.GetAwaiter().GetResult();
                reading = i + 1 < count ? startReading(i + 1) : null;
                var output = process(i, input);
                if (writing is not null)
                {
                    waitingForOutput?.Invoke(i - 1);
                    writing.GetAwaiter().GetResult();
                }
                int index = i;
                writing = Task.Run(() => write(index, output));
            }
            waitingForOutput?.Invoke(count - 1);
            writing!.GetAwaiter().GetResult();
            writing = null;
        }
        finally
        {
            Settle(writing);
            Settle(reading);
        }
    }

    /// <summary>Waits for a task the run no longer needs (one never started is left alone); its error is dropped (the run already fails with the first).</summary>
    private static void Settle(Task? task)
    {
        try
        {
            if (task is { Status: not TaskStatus.Created })
                task.Wait();
        }
        catch (AggregateException)
        {
        }
    }
}
