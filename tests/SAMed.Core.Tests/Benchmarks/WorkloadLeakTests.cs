using SAMed.Benchmarks;
using TorchSharp;

namespace SAMed.Tests.Benchmarks;

/// <summary>Repeated training steps and inference forwards leave no tensors behind (memory stays flat).</summary>
public class WorkloadLeakTests
{
    private static readonly BenchOptions Smoke = new() { ModelType = "tiny", ImageSize = 32, Batch = 2, Threads = 0, NumClasses = 3 };

    [Fact]
    [Trait("Category", "Slow")]
    public void AThousandTrainingStepsKeepTheLiveTensorCountFlat()
    {
        using var workload = ModelWorkloads.Training(Smoke);
        AssertFlat(workload, warmup: 3, steps: 1000);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void AHundredBfloat16TrainingStepsKeepTheLiveTensorCountFlat()
    {
        using var workload = ModelWorkloads.Training(Smoke with { Bfloat16 = true });
        AssertFlat(workload, warmup: 3, steps: 100);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void TwoHundredInferenceForwardsKeepTheLiveTensorCountFlat()
    {
        using var workload = ModelWorkloads.Inference(Smoke with { MergeLora = false });
        AssertFlat(workload, warmup: 3, steps: 200);
    }

    private static void AssertFlat(IWorkload workload, int warmup, int steps)
    {
        // The first steps create lasting state (AdamW's moments, gradients); after them nothing may accumulate.
        for (int i = 0; i < warmup; i++)
            workload.Run();
        long before = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
        var counts = new List<long>();
        for (int i = 0; i < steps; i++)
        {
            workload.Run();
            counts.Add(DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount);
        }
        Assert.True(before > 0, "the statistics saw no live tensors at all; they would not detect a leak");
        Assert.True(counts.All(c => c == before),
            $"live tensors grew over {steps} steps: {before} before, then {string.Join(", ", counts.Distinct())}");
    }
}
