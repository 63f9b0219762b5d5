using System.CommandLine;
using SAMed.Diagnostics;
using SAMed.Train.Cli;

namespace SAMed.Train.Commands;

/// <summary>Checks a device in one command: the build, the device, SAMed's numbers on it, CPU-vs-device, speed and memory.</summary>
public static class DoctorCommand
{
    public static Command Create()
    {
        var defaults = new DoctorOptions();
        var bench = defaults.BenchOptions;
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => defaults.Device };
        var reference = new Option<string?>("--reference")
        {
            Description = "Reference cases to compare with: the folder holding parity/ (or one case folder). Default: $SAMED_SHARED/reference, "
                + "else shared/reference beside the repository or the current folder; without them only the CPU-vs-device check runs.",
            HelpName = "DIR",
        };
        var noBench = new Option<bool>("--no-bench") { Description = "Skip the timed forward and training step." };
        var model = new Option<string>("--model", "--vit-name") { Description = "Model of the timed part: vit_b, vit_l, vit_h or tiny.", DefaultValueFactory = _ => bench.ModelType };
        model.AcceptOnlyFromAmong([.. Modeling.SamBuilder.ModelTypes]);
        var imageSize = new Option<int>("--img-size") { Description = "Image size of the timed part.", DefaultValueFactory = _ => bench.ImageSize };
        var batch = new Option<int>("--batch-size", "--batch") { Description = "Images per timed forward and step.", DefaultValueFactory = _ => bench.Batch };
        var warmup = new Option<int>("--warmup") { Description = "Untimed runs before timing.", DefaultValueFactory = _ => bench.Warmup };
        var iterations = new Option<int>("--iterations") { Description = "Timed runs of the forward and of the step.", DefaultValueFactory = _ => bench.Iterations };
        var bf16 = new Option<bool>("--bf16") { Description = "Timed part with the frozen image encoder in bfloat16 (as train --precision bfloat16)." };
        var noTf32 = new Option<bool>("--no-tf32") { Description = "Timed part without TF32 on CUDA (train's allow_tf32 false); the comparisons never use it." };
        var threads = CommonOptions.Threads();

        var command = new Command("doctor", "Check a device: libtorch build, device and memory, SAMed's reference numbers and the CPU's on it, a timed vit_b 512 forward and step. Exit code 0 only if every check passes.")
        {
            device, reference, noBench, model, imageSize, batch, warmup, iterations, bf16, noTf32, threads,
        };
        command.SetAction(result =>
        {
            CommonOptions.ApplyThreads(result, threads);
            var options = new DoctorOptions
            {
                Device = result.GetValue(device)!,
                Reference = result.GetValue(reference),
                Bench = !result.GetValue(noBench),
                AllowTf32 = !result.GetValue(noTf32),
                BenchOptions = bench with
                {
                    ModelType = result.GetValue(model)!,
                    ImageSize = result.GetValue(imageSize),
                    Batch = result.GetValue(batch),
                    Warmup = result.GetValue(warmup),
                    Iterations = result.GetValue(iterations),
                    Bfloat16 = result.GetValue(bf16),
                    Device = result.GetValue(device)!,
                },
            };
            var report = Doctor.Run(options, Console.WriteLine);
            if (report.Passed)
                return ExitCodes.Ok;
            Console.Error.WriteLine($"samed doctor: {report.Summary()}");
            return ExitCodes.Failure;
        });
        return command;
    }
}
