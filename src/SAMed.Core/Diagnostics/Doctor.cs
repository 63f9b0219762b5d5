using System.Globalization;
using SAMed.Adaptation;
using SAMed.Benchmarks;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Diagnostics;

/// <summary>What `doctor` checks: the device, where the reference cases are, and whether (and how long) to time.</summary>
public sealed record DoctorOptions
{
    /// <summary>cpu, cuda or cuda:N.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// A reference folder (holding parity/ and adapter/) or one case folder; null: <see cref="ReferenceLocation.Find"/>,
    /// and when none is found the reference comparison is left out (said so in the report).
    /// </summary>
    public string? Reference { get; init; }

    /// <summary>Time a forward and a training step (<see cref="BenchOptions"/>'s model, on <see cref="Device"/>).</summary>
    public bool Bench { get; init; } = true;

    /// <summary>TF32 for the timed CUDA workloads (train's allow_tf32, on by default); the comparisons always run without it.</summary>
    public bool AllowTf32 { get; init; } = true;

    /// <summary>The timed workloads: vit_b 512, batch 1, one warmup and three timed runs by default (the device is set from <see cref="Device"/>).</summary>
    public BenchOptions BenchOptions { get; init; } = new() { Warmup = 1, Iterations = 3, Memory = false, Data = false };
}

/// <summary>One set of comparisons in the report: the reference case or the CPU-vs-device check.</summary>
public sealed record DoctorSection(string Title, IReadOnlyList<CheckGroup> Groups)
{
    public bool Passed => Groups.All(g => g.Passed);
}

/// <summary>What `doctor` found; <see cref="Passed"/> when every comparison is within its tolerance.</summary>
public sealed record DoctorReport(IReadOnlyList<DoctorSection> Sections, DeviceBenchResult? Bench)
{
    public bool Passed => Sections.All(s => s.Passed);

    /// <summary>"3 of 3 sections passed" or the sections and groups that failed.</summary>
    public string Summary()
    {
        if (Passed)
            return $"PASS: {Sections.Count} of {Sections.Count} checks within their tolerances";
        var failed = Sections.Where(s => !s.Passed).Select(s => $"{s.Title} ({string.Join(", ", s.Groups.Where(g => !g.Passed).Select(g => g.Name))})");
        return $"FAIL: {string.Join("; ", failed)}";
    }
}

/// <summary>
/// Checks that a device computes SAMed correctly and how fast: the libtorch build and the device, the reference cases'
/// forward and training steps against SAMed's numbers, the same random-init model on the CPU and on the device, and a
/// timed forward and step with their memory. Writes the report line by line as it goes.
/// </summary>
public static class Doctor
{
    public static DoctorReport Run(DoctorOptions options, Action<string> write)
    {
        if (TorchDevices.Problem(options.Device) is string problem)
            throw new ArgumentException(problem);
        var device = TorchDevices.Parse(options.Device);
        if (options.Bench)
            (options.BenchOptions with { Device = options.Device }).ThrowIfInvalid();
        var cases = ReferenceCases(options.Reference, out string referenceNote);
        foreach (string line in Describe(options.Device, device))
            write(line);

        // TF32 rounds float32 products to 10-bit mantissas: the comparisons run without it.
        TrainingPrecision.ConfigureBackends(options.Device, allowTf32: false, deterministic: true);
        var sections = new List<DoctorSection>();
        string cpuVsDevice = device.type == DeviceType.CPU ? "cpu vs cpu (the same computation twice: it must repeat)" : $"cpu vs {options.Device}";
        sections.Add(Section($"{cpuVsDevice}: random-init {DeviceCheck.Spec}, forward and {DeviceCheck.Recipe.Steps} AdamW steps, no files needed",
            () => DeviceCheck.Run(device), write));
        write(referenceNote);
        foreach (var reference in cases)
        {
            sections.Add(Section($"{reference.Kind}/{reference.Name} on {options.Device} against SAMed's PyTorch numbers, at the case's tolerances",
                () => ReferenceCheck.Run(reference, device), write));
        }

        DeviceBenchResult? bench = null;
        if (options.Bench)
        {
            var benchOptions = options.BenchOptions with { Device = options.Device };
            TrainingPrecision.ConfigureBackends(options.Device, options.AllowTf32, deterministic: true);
            write($"timing on {options.Device}: {ModelWorkloads.Spec(benchOptions)}, {benchOptions.TrainingPrecision}, batch {benchOptions.Batch}, "
                + $"{benchOptions.Warmup} warmup + {benchOptions.Iterations} timed runs each{(device.type == DeviceType.CUDA ? $", TF32 {(options.AllowTf32 ? "on" : "off")}" : "")}");
            bench = DeviceBench.Run(benchOptions);
            foreach (string line in bench.Describe())
                write("  " + line);
        }
        else
        {
            write("timing: skipped (--no-bench)");
        }

        var report = new DoctorReport(sections, bench);
        write(report.Summary());
        return report;
    }

    /// <summary>The libtorch build, the device and its memory.</summary>
    public static IEnumerable<string> Describe(string name, Device device)
    {
        string cuda = TorchDevices.CudaAvailable ? $"CUDA available, {TorchDevices.CudaDeviceCount} device(s)" : $"CUDA not available: {TorchDevices.WhyNoCuda()}";
        yield return $"build: TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch {torch.__version__}; {cuda}";
        if (device.type == DeviceType.CUDA)
        {
            int index = Math.Max(0, (int)device.index);
            string capability = CudaRuntime.ComputeCapability(index) is var (major, minor)
                ? $"compute capability {major}.{minor} ({(major >= 8 ? "bfloat16 and TF32 in hardware" : "no bfloat16 or TF32 tensor cores: --precision bfloat16 will be slow")})"
                : "compute capability unknown (no CUDA runtime library found)";
            string memory = CudaRuntime.Memory(index) is { } info
                ? string.Create(CultureInfo.InvariantCulture, $"{info.TotalBytes / 1073741824.0:F1} GiB, {info.FreeBytes / 1073741824.0:F1} GiB free")
                : "memory unknown (no CUDA runtime library found)";
            yield return $"device {name}: CUDA device {index}, {capability}, {memory}";
            yield return "comparisons run with TF32 off (allow_tf32 false), the timing as train runs (allow_tf32 as given, on by default)";
        }
        else
        {
            yield return $"device cpu: {Environment.ProcessorCount} logical CPUs, {torch.get_num_threads()} libtorch threads, {HostMemory()}";
        }
    }

    private static DoctorSection Section(string title, Func<IReadOnlyList<CheckGroup>> check, Action<string> write)
    {
        write(title);
        var started = DateTime.UtcNow;
        var groups = check();
        foreach (var group in groups)
        {
            foreach (string line in group.Describe())
                write("  " + line);
        }
        write(string.Create(CultureInfo.InvariantCulture, $"  ({(DateTime.UtcNow - started).TotalSeconds:F1} s)"));
        return new DoctorSection(title, groups);
    }

    /// <summary>The cases to compare with, and a line saying where they came from or why there are none.</summary>
    private static IReadOnlyList<ParityCase> ReferenceCases(string? given, out string note)
    {
        if (given is not null)
        {
            string full = Path.GetFullPath(given);
            if (!Directory.Exists(full))
                throw new DirectoryNotFoundException($"--reference {given}: no such folder");
            IReadOnlyList<string> directories = File.Exists(Path.Combine(full, "case.json")) ? [full] : ParityCase.Directories(full);
            if (directories.Count == 0)
                throw new InvalidDataException($"--reference {given}: no reference case there (a case folder with case.json, or a folder holding parity/CASE/ or adapter/CASE/)");
            note = $"reference cases: {full} ({directories.Count})";
            return Load(directories);
        }
        if (ReferenceLocation.Find() is string found)
        {
            var directories = ParityCase.Directories(found);
            note = $"reference cases: {found} ({directories.Count})";
            return Load(directories);
        }
        note = "reference cases: none found (looked for shared/reference beside the repository and the current folder, and $SAMED_SHARED/reference); "
            + "pass --reference DIR (the folder holding parity/) to compare with SAMed's PyTorch numbers";
        return [];
    }

    private static List<ParityCase> Load(IEnumerable<string> directories) =>
        [.. directories.Select(ParityCase.Load).Where(c => ParityCase.IsModelKind(c.Kind))];

    private static string HostMemory()
    {
        const string meminfo = "/proc/meminfo";
        if (!File.Exists(meminfo))
            return "memory unknown";
        long? Field(string name) => File.ReadLines(meminfo).Where(l => l.StartsWith(name + ":", StringComparison.Ordinal))
            .Select(l => (long?)long.Parse(l[(name.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024).FirstOrDefault();
        return string.Create(CultureInfo.InvariantCulture, $"{Field("MemTotal") / 1073741824.0:F1} GiB memory, {Field("MemAvailable") / 1073741824.0:F1} GiB available");
    }
}

/// <summary>Where the reference cases are by default: $SAMED_SHARED/reference, else shared/reference beside the repository or the current folder.</summary>
public static class ReferenceLocation
{
    /// <summary>The first candidate that holds a model case (parity/CASE/ or adapter/CASE/), or null.</summary>
    public static string? Find()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("SAMED_SHARED") is { Length: > 0 } shared)
            candidates.Add(Path.Combine(Path.GetFullPath(shared), "reference"));
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            // shared/ beside the repository (or the current folder), or inside it.
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                candidates.Add(Path.Combine(dir.FullName, "shared", "reference"));
        }
        return candidates.FirstOrDefault(c => ParityCase.Directories(c).Count > 0);
    }
}
