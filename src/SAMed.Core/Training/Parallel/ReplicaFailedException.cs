namespace SAMed.Training.Parallel;

/// <summary>A replica's forward failed on its device; the message names the device and the replica.</summary>
public sealed class ReplicaFailedException : InvalidOperationException
{
    public ReplicaFailedException(string device, int replica, int replicas, Exception inner)
        : this(device, replica, $"device {device} (replica {replica + 1} of {replicas}) failed: {inner.Message}", inner)
    {
    }

    private ReplicaFailedException(string device, int replica, string message, Exception? inner)
        : base(message, inner)
    {
        Device = device;
        Replica = replica;
    }

    /// <summary>The device name as configured (cpu, cuda:N).</summary>
    public string Device { get; }

    /// <summary>The replica's index in the device list (0: the first device, which holds the model).</summary>
    public int Replica { get; }

    /// <summary>The same failure with <paramref name="consequence"/> (where the run stopped, how to continue) appended.</summary>
    public ReplicaFailedException With(string consequence) => new(Device, Replica, $"{Message}; {consequence}", InnerException);
}
