using System.Text.Json.Nodes;
using SAMed.Benchmarks;
using SAMed.Diagnostics;
using SAMed.IO;
using SAMed.Tests.Reference;
using SAMed.TorchInterop;

namespace SAMed.Tests.Diagnostics;

/// <summary>`doctor`'s checks on SAMED_TEST_DEVICE: they pass on the reference case, and fail on a perturbed one or a tolerance too tight.</summary>
public class DoctorTests
{
    private static DoctorOptions Quick(string? reference) => new() { Device = TestDevice.UsableName(), Reference = reference, Bench = false };

    /// <summary>The first SAMed LoRA case (parity/), or a skip.</summary>
    private static string ParityCaseOrSkip()
    {
        string? directory = ParityCase.Directories(SharedPaths.ReferenceDir).FirstOrDefault(d => ParityCase.KindOf(d) == ParityCase.ParityKind);
        Skip.If(directory is null, $"no parity case under {SharedPaths.ReferenceDir}");
        return directory!;
    }

    [SkippableFact]
    [Trait("Category", "Parity")]
    public void PassesWithTheParityCase()
    {
        string directory = ParityCaseOrSkip();
        var lines = new List<string>();
        var report = Doctor.Run(Quick(directory), lines.Add);
        Assert.True(report.Passed, string.Join("\n", lines));
        Assert.Equal(2, report.Sections.Count);
        Assert.All(report.Sections, s => Assert.Contains(s.Groups, g => g.Name.StartsWith("gradients", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.StartsWith("build: TorchSharp", StringComparison.Ordinal));
        Assert.StartsWith("PASS", lines[^1], StringComparison.Ordinal);
    }

    [SkippableFact]
    [Trait("Category", "Parity")]
    public void FailsOnAPerturbedReference()
    {
        string directory = ParityCaseOrSkip();
        using var copy = new CaseCopy(directory);
        var logits = Npy.Read(copy.File("low_res_logits.npy"));
        var values = logits.ToFloat();
        values[values.Length / 2] += 1e-2f;
        Npy.Write(copy.File("low_res_logits.npy"), NpyArray.FromFloat32(values, logits.Shape));

        var lines = new List<string>();
        var report = Doctor.Run(Quick(copy.Path), lines.Add);
        Assert.False(report.Passed);
        var failed = Assert.Single(report.Sections, s => !s.Passed);
        Assert.Equal(["forward"], failed.Groups.Where(g => !g.Passed).Select(g => g.Name));
        Assert.Contains(lines, l => l.Contains("low_res_logits: max |diff|", StringComparison.Ordinal) && l.EndsWith("FAILED", StringComparison.Ordinal));
        Assert.StartsWith("FAIL", report.Summary(), StringComparison.Ordinal);
    }

    [SkippableFact]
    [Trait("Category", "Parity")]
    public void FailsWhenTheCaseToleranceIsTighterThanTheDifferences()
    {
        string directory = ParityCaseOrSkip();
        using var copy = new CaseCopy(directory);
        var json = JsonNode.Parse(File.ReadAllText(copy.File("case.json")))!;
        json["tolerance"]!["grads"] = new JsonObject { ["atol"] = 0.0, ["rtol"] = 0.0 };
        File.WriteAllText(copy.File("case.json"), json.ToJsonString());

        var report = Doctor.Run(Quick(copy.Path), _ => { });
        Assert.False(report.Passed);
        var failed = Assert.Single(report.Sections, s => !s.Passed);
        Assert.Equal(["gradients of step 1"], failed.Groups.Where(g => !g.Passed).Select(g => g.Name));
    }

    [SkippableFact]
    public void CudaWithoutCudaIsOneClearError()
    {
        Skip.If(TorchDevices.CudaAvailable, "CUDA is available here");
        var cuda = Assert.Throws<ArgumentException>(() => Doctor.Run(new DoctorOptions { Device = "cuda", Bench = false }, _ => { }));
        Assert.StartsWith("device cuda: CUDA is not available", cuda.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Parameter", cuda.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingReferenceFolderIsBadInput()
    {
        var error = Assert.Throws<DirectoryNotFoundException>(() => Doctor.Run(new DoctorOptions { Reference = "/nonexistent/reference", Bench = false }, _ => { }));
        Assert.Contains("--reference /nonexistent/reference", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TimesTheBenchWorkloadsOnTheDevice()
    {
        var options = new DoctorOptions
        {
            Device = "cpu",
            Reference = ParityCase.Directories(SharedPaths.ReferenceDir).FirstOrDefault(),
            BenchOptions = new BenchOptions { ModelType = "tiny", ImageSize = 64, Warmup = 0, Iterations = 1, Memory = false, Data = false },
        };
        var lines = new List<string>();
        var report = Doctor.Run(options, lines.Add);
        Assert.True(report.Passed, string.Join("\n", lines));
        Assert.NotNull(report.Bench);
        Assert.True(report.Bench!.Forward.Median > 0 && report.Bench.Step.Median > 0);
        Assert.Contains(lines, l => l.Contains("training step: median", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("VmHWM", StringComparison.Ordinal));
    }

    /// <summary>A reference case copied to a temporary folder, to be changed; removed afterwards.</summary>
    private sealed class CaseCopy : IDisposable
    {
        public CaseCopy(string directory)
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"samed-doctor-{Guid.NewGuid():N}");
            Directory.CreateDirectory(Path);
            foreach (string file in Directory.GetFiles(directory))
                System.IO.File.Copy(file, File(System.IO.Path.GetFileName(file)));
        }

        public string Path { get; }

        public string File(string name) => System.IO.Path.Combine(Path, name);

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
