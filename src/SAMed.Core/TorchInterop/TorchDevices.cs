using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.TorchInterop;

/// <summary>Device names as SAMed's configurations and commands take them: cpu, cuda or cuda:N.</summary>
public static class TorchDevices
{
    public static bool CudaAvailable => torch.cuda.is_available();

    /// <summary>The number of CUDA devices libtorch can use (0 when CUDA is not available).</summary>
    public static int CudaDeviceCount => CudaAvailable ? torch.cuda.device_count() : 0;

    /// <summary>The torch device a name denotes; an <see cref="ArgumentException"/> with <see cref="Problem"/> if it is unusable.</summary>
    public static Device Parse(string name)
    {
        if (Problem(name) is string problem)
            throw new ArgumentException(problem, nameof(name));
        return torch.device(name);
    }

    /// <summary>
    /// Why a device cannot be used (a name other than cpu, cuda or cuda:N; CUDA not available; a CUDA index beyond
    /// the devices there are), or null when it can.
    /// </summary>
    public static string? Problem(string name)
    {
        if (FormatProblem(name) is string format)
            return format;
        if (name == "cpu")
            return null;
        if (!CudaAvailable)
            return $"device {name}: CUDA is not available to libtorch ({WhyNoCuda()})";
        int count = torch.cuda.device_count();
        if (name.Length > 5 && int.Parse(name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture) >= count)
            return $"device {name}: only {count} CUDA device(s)";
        return null;
    }

    /// <summary>
    /// Why torch.cuda.is_available() is false, as far as the process can tell: the libtorch loaded has no CUDA
    /// library (the CPU runtime package), or it has one but sees no device.
    /// </summary>
    public static string WhyNoCuda()
    {
        if (CudaAvailable)
            return "CUDA is available";
        bool? cudaLibrary = LoadedLibraryPath("libtorch_cuda") is not null ? true : File.Exists("/proc/self/maps") ? false : null;
        return cudaLibrary switch
        {
            false => "this build's libtorch is the CPU package; build with -p:TorchBackend=cuda, or -p:TorchBackend=external with a CUDA libtorch on the library path",
            true => "libtorch has CUDA but finds no usable device (driver, CUDA_VISIBLE_DEVICES)",
            null => "no CUDA libtorch or no device",
        };
    }

    /// <summary>Blocks until the device has finished its queued work (torch.cuda.synchronize); nothing to wait for on the CPU.</summary>
    public static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA)
            torch.cuda.synchronize(device);
    }

    /// <summary>
    /// The full path of a shared library loaded in this process whose file name starts with <paramref name="prefix"/>
    /// (from /proc/self/maps), or null (none, or not Linux).
    /// </summary>
    public static string? LoadedLibraryPath(string prefix)
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
            return null;
        foreach (string line in File.ReadLines(maps))
        {
            int slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0)
                continue;
            string path = line[slash..];
            if (Path.GetFileName(path).StartsWith(prefix, StringComparison.Ordinal) && path.Contains(".so", StringComparison.Ordinal))
                return path;
        }
        return null;
    }

    /// <summary>The spelling alone, without asking libtorch: null for cpu, cuda or cuda:N (N a non-negative integer).</summary>
    public static string? FormatProblem(string name) =>
        name is "cpu" or "cuda"
        || (name.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            ? null
            : $"device '{name}' must be cpu, cuda or cuda:N";
}
