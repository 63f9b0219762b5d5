using System.Runtime.InteropServices;

namespace SAMed.TorchInterop;

/// <summary>
/// Returns freed pages of glibc's heap to the system (malloc_trim). libtorch's CPU tensors of a few MiB come from the
/// heap once glibc has raised its dynamic mmap threshold; the pieces freed during a training forward fragment and stay
/// resident, so the peak resident memory of a step grows by hundreds of MiB although they are free. Trimming at a few
/// points gives those pages back; the price is page faults when they are used again.
/// </summary>
public static class NativeHeap
{
    /// <summary>Calls glibc's malloc_trim(0). Returns false where there is no glibc, doing nothing.</summary>
    public static bool Release()
    {
        if (!OperatingSystem.IsLinux())
            return false;
        try
        {
            return MallocTrim(0) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code enabled for the whole library
    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
#pragma warning restore SYSLIB1054
}
