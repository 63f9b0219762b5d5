using System.Runtime.InteropServices;

namespace SAMed.Benchmarks;

/// <summary>
/// glibc malloc settings for libtorch's CPU tensors. By default glibc raises its mmap threshold (up to 32 MiB) each
/// time a large mmap'd block is freed, so later activations of a few MiB come from the heap, where freed pieces
/// fragment and stay resident: the peak resident memory of a training step grows by hundreds of MiB. A fixed
/// threshold keeps every large tensor in its own mapping, returned to the system when the tensor is freed.
/// </summary>
public static class NativeAllocator
{
    private const int MmapThresholdParameter = -3;

    /// <summary>
    /// Sets glibc's M_MMAP_THRESHOLD (which also stops its dynamic adjustment). Returns false where there is no
    /// glibc (other C libraries or operating systems), leaving everything unchanged.
    /// </summary>
    public static bool SetMmapThreshold(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (!OperatingSystem.IsLinux())
            return false;
        try
        {
            return Mallopt(MmapThresholdParameter, bytes) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code enabled for the whole library
    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int parameter, int value);
#pragma warning restore SYSLIB1054
}
