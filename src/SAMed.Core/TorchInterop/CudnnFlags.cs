using System.Runtime.InteropServices;
using TorchSharp;

namespace SAMed.TorchInterop;

/// <summary>
/// torch.backends.cudnn.deterministic and torch.backends.cudnn.benchmark, which TorchSharp 0.107 does not expose
/// (its use_deterministic_algorithms is marked not implemented): libtorch's global at::Context setters
/// setDeterministicCuDNN(bool) and setBenchmarkCuDNN(bool), called through their exported symbols in libtorch_cpu
/// (the CPU and CUDA builds both have them). SAMed's train.py sets deterministic on and benchmark off by default.
/// </summary>
public static class CudnnFlags
{
    private delegate IntPtr GlobalContext();

    private delegate void SetFlag(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool value);

    [return: MarshalAs(UnmanagedType.U1)]
    private delegate bool GetFlag(IntPtr context);

    /// <summary>cudnn.deterministic (deterministic convolution kernels).</summary>
    public static bool Deterministic
    {
        get => Get("_ZNK2at7Context18deterministicCuDNNEv");
        set => Set("_ZN2at7Context21setDeterministicCuDNNEb", value);
    }

    /// <summary>cudnn.benchmark (autotuning that may pick a different kernel from run to run).</summary>
    public static bool Benchmark
    {
        get => Get("_ZNK2at7Context14benchmarkCuDNNEv");
        set => Set("_ZN2at7Context17setBenchmarkCuDNNEb", value);
    }

    /// <summary>SAMed's --deterministic: 1 gives benchmark off and deterministic on; 0 the reverse.</summary>
    public static void Apply(bool deterministic)
    {
        Benchmark = !deterministic;
        Deterministic = deterministic;
    }

    private static bool Get(string symbol) => Marshal.GetDelegateForFunctionPointer<GetFlag>(Export(symbol))(Context());

    private static void Set(string symbol, bool value) => Marshal.GetDelegateForFunctionPointer<SetFlag>(Export(symbol))(Context(), value);

    private static IntPtr Context() => Marshal.GetDelegateForFunctionPointer<GlobalContext>(Export("_ZN2at13globalContextEv"))();

    private static IntPtr Export(string symbol)
    {
        // libtorch is loaded by TorchSharp on first use; loading by name then returns the library already in the process.
        torch.InitializeDeviceType(DeviceType.CPU);
        foreach (string name in new[] { "libtorch_cpu.so", "libtorch_cpu.dylib", "torch_cpu.dll" })
        {
            if (NativeLibrary.TryLoad(name, out var handle) && NativeLibrary.TryGetExport(handle, symbol, out var address))
                return address;
        }
        throw new PlatformNotSupportedException($"libtorch's {symbol} was not found in the loaded libtorch_cpu");
    }
}
