using SAMed.Lora;
using SAMed.Modeling;
using SAMed.Tests.Reference;
using SAMed.Tests.Training;
using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Modeling;

// Seeds libtorch's global generator and builds the same model twice: alone, so no other test draws in between.
[Collection(TorchRngCollection.Name)]
public class HeapReleaseTests
{
    [Fact]
    public void NativeHeapReleaseRunsOnLinux()
    {
        Assert.Equal(OperatingSystem.IsLinux(), NativeHeap.Release());
    }

    [Fact]
    public void ReleasingTheHeapInTrainingChangesNeitherLogitsNorGradients()
    {
        (float[] Logits, float[] Gradients) Run(bool release)
        {
            using var scope = torch.NewDisposeScope();
            torch.manual_seed(7);
            var model = new LoraSam(new Sam(TestModels.Small()), rank: 4);
            model.train();
            model.Sam.ImageEncoder.ReleaseHeapInTraining = release;
            var images = torch.rand(1, 3, 64, 64) * 255;
            var logits = model.Forward(images, multimaskOutput: true, 64).low_res_logits;
            logits.square().sum().backward();
            var gradients = model.TrainableParameters().Where(p => p.p.grad is not null).Select(p => p.p.grad!.flatten()).ToArray();
            Assert.All(model.TrainableParameters().Where(p => p.name.StartsWith("w_", StringComparison.Ordinal)), p => Assert.NotNull(p.p.grad));
            return (logits.data<float>().ToArray(), torch.cat(gradients).data<float>().ToArray());
        }

        var kept = Run(release: false);
        var released = Run(release: true);
        Assert.Equal(kept.Logits, released.Logits);
        Assert.Equal(kept.Gradients, released.Gradients);
    }
}
