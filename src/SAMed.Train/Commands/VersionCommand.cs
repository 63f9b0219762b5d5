using System.CommandLine;
using SAMed.TorchInterop;
using TorchSharp;

namespace SAMed.Train.Commands;

/// <summary>Prints the program, TorchSharp and libtorch versions and the devices torch can see.</summary>
public static class VersionCommand
{
    public static Command Create()
    {
        var command = new Command("version", "Print versions and the devices libtorch can use.");
        command.SetAction(_ =>
        {
            Console.WriteLine($"samed {typeof(VersionCommand).Assembly.GetName().Version}");
            Console.WriteLine($"TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch {torch.__version__}");
            Console.WriteLine($"CUDA available: {TorchDevices.CudaAvailable} ({TorchDevices.CudaDeviceCount} devices)");
            Console.WriteLine($"CPU threads: {torch.get_num_threads()}");
            return 0;
        });
        return command;
    }
}
