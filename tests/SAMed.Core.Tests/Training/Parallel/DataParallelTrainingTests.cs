using SAMed.Checkpoints;
using SAMed.Diagnostics;
using SAMed.Tests.Reference;
using SAMed.Training;
using SAMed.Training.Parallel;

namespace SAMed.Tests.Training.Parallel;

/// <summary>The trainer with <c>devices</c>: the same run as on one device, the run log, and a device that fails mid-run.</summary>
[Collection(TorchRngCollection.Name)]
public sealed class DataParallelTrainingTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"samed-parallel-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(root))
            Directory.Delete(root, recursive: true);
    }

    private TrainerOptions Quiet(string name, Action<int>? beforeReplicaForward = null) => new()
    {
        Output = TextWriter.Null,
        Interactive = false,
        RunDirectory = Path.Combine(root, name),
        Evaluate = false,
        BeforeReplicaForward = beforeReplicaForward,
    };

    /// <summary>
    /// Two CPU replicas train as one device does: the same losses and, after three steps, the same LoRA checkpoint at
    /// the parity cases' after_steps tolerance (Adam divides by sqrt(v), so rounding-level gradient differences move
    /// tensors by up to ~lr). log.txt names the devices and the chunk sizes.
    /// </summary>
    [Fact]
    public void TwoCpuReplicasTrainAsOneDevice()
    {
        var config = TrainPresets.Smoke with { MaxSteps = 3, SyntheticTrainVolumes = 1, SyntheticTestVolumes = 0 };
        var single = Trainer.Train(config, Quiet("single"));
        var parallel = Trainer.Train(config with { Devices = ["cpu", "cpu"] }, Quiet("parallel"));
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(single.Steps[i].Loss, parallel.Steps[i].Loss, 5);
            Assert.Equal(single.Steps[i].Lr, parallel.Steps[i].Lr);
        }
        var want = PthStateDict.Read(single.LoraCheckpoint);
        var got = PthStateDict.Read(parallel.LoraCheckpoint);
        Assert.Equal(want.Keys, got.Keys);
        foreach (var (name, tensor) in want)
            ParityCases.AssertClose(name, got[name], tensor, new Tolerance(5e-4, 0));
        string transcript = File.ReadAllText(Path.Combine(parallel.RunDirectory, Trainer.TranscriptFile));
        Assert.Contains("iterations on cpu, cpu", transcript);
        Assert.Contains("data parallel on 2 devices (cpu, cpu): each step's 8 images split 4 + 4", transcript);
    }

    /// <summary>
    /// A device that fails in step 7 stops the run with one line naming it and where to continue; the resume point
    /// written after step 6 is intact, and resuming it ends with the uninterrupted run's tensors.
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void AFailingDeviceStopsTheRunAndLeavesTheResumePoint()
    {
        var config = TrainPresets.Smoke with
        {
            MaxSteps = 8,
            ResumeInterval = 3,
            SaveInterval = 100,
            SyntheticTrainVolumes = 2,
            SyntheticTestVolumes = 0,
            Devices = ["cpu", "cpu"],
        };
        var whole = Trainer.Train(config, Quiet("whole"));

        int forwards = 0;
        var e = Assert.Throws<ReplicaFailedException>(() => Trainer.Train(config, Quiet("failed", replica =>
        {
            if (replica == 1 && Interlocked.Increment(ref forwards) == 7)
                throw new InvalidOperationException("CUDA error: an illegal memory access was encountered");
        })));
        string run = Path.Combine(root, "failed");
        Assert.Equal(
            "device cpu (replica 2 of 2) failed: CUDA error: an illegal memory access was encountered; "
            + $"the run stopped after iteration 6; its last resume point (iteration 6) is intact: train --resume {run}",
            e.Message);
        Assert.Equal(6, ResumeCheckpoint.Find(run)!.Iteration);
        Assert.Contains($"error: {e.Message}", File.ReadAllText(Path.Combine(run, Trainer.TranscriptFile)));
        Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), TrainingLog.Read(Path.Combine(run, Trainer.LogFile)).Select(r => r.Iteration));

        var resumed = Trainer.Resume(run, Quiet("failed"));
        Assert.Equal(8, resumed.Iterations);
        Assert.Equal(whole.Steps.Skip(6).Select(s => s.Loss), resumed.Steps.Select(s => s.Loss));
        var want = PthStateDict.Read(whole.LoraCheckpoint);
        var got = PthStateDict.Read(resumed.LoraCheckpoint);
        foreach (var (name, tensor) in want)
            Assert.Equal(tensor.data<float>().ToArray(), got[name].data<float>().ToArray());
    }
}
