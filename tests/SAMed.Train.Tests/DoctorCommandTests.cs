using System.Text.Json.Nodes;
using SAMed.Diagnostics;
using SAMed.TorchInterop;

namespace SAMed.Train.Tests;

/// <summary>`samed doctor`: exit 0 only when every check passes; a device that cannot be used is one line and exit 2.</summary>
public sealed class DoctorCommandTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [SkippableFact]
    public void CudaWithoutCudaIsOneLineAndBadInput()
    {
        Skip.If(TorchDevices.CudaAvailable, "CUDA is available here");
        Samed.Run("doctor", "--device", "cuda").AssertFails(2, "samed doctor: device cuda: CUDA is not available");
    }

    [Fact]
    public void AMisspeltDeviceOrAMissingReferenceIsBadInput()
    {
        Samed.Run("doctor", "--device", "gpu").AssertFails(2, "device 'gpu' must be cpu, cuda or cuda:N");
        Samed.Run("doctor", "--no-bench", "--reference", temp["missing"]).AssertFails(2, "--reference", "no such folder");
    }

    [SkippableFact]
    public void PassesOnTheCpuAndFailsWhenACaseToleranceIsTooTight()
    {
        string? reference = ReferenceLocation.Find();
        Skip.If(reference is null, "no reference cases (../shared/reference)");
        string parity = ParityCase.Directories(reference!).First(d => ParityCase.KindOf(d) == ParityCase.ParityKind);

        var pass = Samed.Run("doctor", "--device", "cpu", "--no-bench", "--reference", parity).AssertSucceeds();
        Assert.Contains("PASS: 2 of 2 checks", pass.Output, StringComparison.Ordinal);

        Directory.CreateDirectory(temp["case"]);
        foreach (string file in Directory.GetFiles(parity))
            File.Copy(file, Path.Combine(temp["case"], Path.GetFileName(file)));
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(parity, "case.json")))!;
        json["tolerance"]!["forward"] = new JsonObject { ["atol"] = 0.0, ["rtol"] = 0.0 };
        File.WriteAllText(Path.Combine(temp["case"], "case.json"), json.ToJsonString());
        var fail = Samed.Run("doctor", "--device", "cpu", "--no-bench", "--reference", temp["case"]).AssertFails(1, "samed doctor: FAIL:", "(forward)");
        Assert.Contains("image_embeddings: max |diff|", fail.Output, StringComparison.Ordinal);
    }
}
