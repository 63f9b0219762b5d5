using System.Runtime;

namespace SAMed.TorchInterop;

/// <summary>
/// Holds off garbage collection while a block of tensor work runs (a training step, an evaluation or inference batch).
/// <para>
/// TorchSharp 0.107 turns numbers into <see cref="TorchSharp.Scalar"/> objects implicitly on many paths, even
/// inside `a + b` (add with alpha 1), and leaves them to the garbage collector. Once the JIT has read a Scalar's
/// handle it may consider the object dead, so a collection during the native call can run its finalizer and free
/// the native scalar while libtorch reads it: "Unknown scalar type", "Expected false to be true ... toFloat" or a
/// crash, a few hundred steps into a run. Without collections inside the block no such finalizer can run; garbage
/// is collected between blocks, when no native call is in flight on this thread.
/// </para>
/// </summary>
public sealed class GcPause : IDisposable
{
    /// <summary>Managed allocation allowed inside a block (all threads) before a collection happens anyway.</summary>
    public const long DefaultBudget = 256L << 20;

    private readonly bool started;

    private GcPause(bool started) => this.started = started;

    public static GcPause Begin(long budget = DefaultBudget)
    {
        try
        {
            return new GcPause(GC.TryStartNoGCRegion(budget));
        }
        catch (InvalidOperationException)
        {
            return new GcPause(false); // a pause is already in effect
        }
        catch (ArgumentOutOfRangeException)
        {
            return new GcPause(false); // the runtime cannot reserve that much; run unprotected
        }
    }

    public void Dispose()
    {
        if (started && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
        {
            try
            {
                GC.EndNoGCRegion();
            }
            catch (InvalidOperationException)
            {
                // The budget was exceeded and the region ended on its own.
            }
        }
    }
}
