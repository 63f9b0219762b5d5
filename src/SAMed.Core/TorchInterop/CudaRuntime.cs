using System.Runtime.InteropServices;

namespace SAMed.TorchInterop;

/// <summary>Free and total memory of a CUDA device, in bytes.</summary>
public sealed record CudaMemoryInfo(long FreeBytes, long TotalBytes)
{
    /// <summary>What the device holds for every process (this one: the CUDA context and libtorch's cached blocks).</summary>
    public long UsedBytes => TotalBytes - FreeBytes;
}

/// <summary>
/// The CUDA runtime's cudaMemGetInfo and cudaDeviceGetAttribute, which TorchSharp 0.107 does not expose (it has no
/// torch.cuda.memory_allocated, max_memory_allocated, mem_get_info or get_device_capability). Called through the libcudart that libtorch_cuda loaded (found in
/// /proc/self/maps: libtorch's own copy carries a hashed name), else libcudart.so.12 / libcudart.so.
/// <para>
/// libtorch's caching allocator keeps the blocks it has used and does not return them to the device without
/// empty_cache, so the device's used memory after a workload is at least libtorch's max_memory_reserved: the
/// peak the workload needed from the device, plus the CUDA context.
/// </para>
/// </summary>
public static class CudaRuntime
{
    private delegate int MemGetInfo(out nuint free, out nuint total);

    private delegate int SetDevice(int device);

    private delegate int DeviceGetAttribute(out int value, int attribute, int device);

    private const int ComputeCapabilityMajor = 75;
    private const int ComputeCapabilityMinor = 76;

    /// <summary>The device's free and total memory, or null when no CUDA runtime library can be found or the call fails.</summary>
    public static CudaMemoryInfo? Memory(int deviceIndex)
    {
        if (Function<SetDevice>("cudaSetDevice") is not { } setDevice || Function<MemGetInfo>("cudaMemGetInfo") is not { } memGetInfo)
            return null;
        if (setDevice(deviceIndex) != 0 || memGetInfo(out nuint free, out nuint total) != 0)
            return null;
        return new CudaMemoryInfo((long)free, (long)total);
    }

    /// <summary>The device's compute capability (8.0 and above: bfloat16 and TF32 tensor cores), or null when unknown.</summary>
    public static (int Major, int Minor)? ComputeCapability(int deviceIndex)
    {
        if (Function<DeviceGetAttribute>("cudaDeviceGetAttribute") is not { } attribute)
            return null;
        if (attribute(out int major, ComputeCapabilityMajor, deviceIndex) != 0 || attribute(out int minor, ComputeCapabilityMinor, deviceIndex) != 0)
            return null;
        return (major, minor);
    }

    private static T? Function<T>(string name)
        where T : Delegate
    {
        if (!TorchDevices.CudaAvailable || Runtime() is not IntPtr library || !NativeLibrary.TryGetExport(library, name, out var address))
            return null;
        return Marshal.GetDelegateForFunctionPointer<T>(address);
    }

    private static IntPtr? Runtime()
    {
        if (TorchDevices.LoadedLibraryPath("libcudart") is string loaded && NativeLibrary.TryLoad(loaded, out var handle))
            return handle;
        foreach (string name in new[] { "libcudart.so.12", "libcudart.so", "cudart64_12.dll" })
        {
            if (NativeLibrary.TryLoad(name, out handle))
                return handle;
        }
        return null;
    }
}
