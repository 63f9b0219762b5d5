using System.Collections.Concurrent;

namespace SAMed.Training.Parallel;

/// <summary>
/// The thread that drives one replica: work items run one at a time, in order, on a dedicated thread (so libtorch's
/// thread-local state, such as grad mode and TorchSharp's dispose scopes, belongs to that replica alone).
/// </summary>
internal sealed class ReplicaThread : IDisposable
{
    private readonly BlockingCollection<Action> work = new();
    private readonly Thread thread;

    public ReplicaThread(string name)
    {
        thread = new Thread(Loop) { IsBackground = true, Name = name };
        thread.Start();
    }

    /// <summary>Queues <paramref name="function"/>; the task completes with its result or its exception.</summary>
    public Task<T> Run<T>(Func<T> function)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        work.Add(() =>
        {
            try
            {
                completion.SetResult(function());
            }
            catch (Exception e)
            {
                completion.SetException(e);
            }
        });
        return completion.Task;
    }

    private void Loop()
    {
        foreach (var item in work.GetConsumingEnumerable())
            item();
    }

    public void Dispose()
    {
        work.CompleteAdding();
        thread.Join();
        work.Dispose();
    }
}
