using TorchSharp;

namespace SAMed.Data;

/// <summary>
/// A batch as SAMed's trainer reads it: image [B, 3, H, W] float32, label [B, H, W] int64 and low_res_label
/// [B, h, w] int64 CPU tensors, plus the case names. The receiver owns it and disposes it.
/// </summary>
public sealed class Batch : IDisposable
{
    private Batch(int epoch, int index, IReadOnlyList<string> caseNames, torch.Tensor image, torch.Tensor label, torch.Tensor lowResLabel)
    {
        (Epoch, Index, CaseNames, Image, Label, LowResLabel) = (epoch, index, caseNames, image, label, lowResLabel);
    }

    public int Epoch { get; }

    /// <summary>Position of the batch within its epoch (0-based); resume an epoch from Index + 1.</summary>
    public int Index { get; }

    public IReadOnlyList<string> CaseNames { get; }
    public int Count => CaseNames.Count;
    public torch.Tensor Image { get; }
    public torch.Tensor Label { get; }
    public torch.Tensor LowResLabel { get; }

    /// <summary>Stacks samples of one size into tensors (created outside any dispose scope).</summary>
    public static Batch FromSamples(int epoch, int index, IReadOnlyList<SynapseSample> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count == 0)
            throw new ArgumentException("a batch needs at least one sample", nameof(samples));
        var first = samples[0];
        int height = first.Height, width = first.Width;
        int lowHeight = first.LowResLabel.GetLength(0), lowWidth = first.LowResLabel.GetLength(1);
        foreach (var sample in samples)
        {
            if (sample.Height != height || sample.Width != width || sample.Label.GetLength(0) != height || sample.Label.GetLength(1) != width
                || sample.LowResLabel.GetLength(0) != lowHeight || sample.LowResLabel.GetLength(1) != lowWidth)
                throw new ArgumentException(
                    $"sample {sample.CaseName} is [{sample.Height}, {sample.Width}] with low_res [{sample.LowResLabel.GetLength(0)}, {sample.LowResLabel.GetLength(1)}], " +
                    $"unlike {first.CaseName}'s [{height}, {width}] with low_res [{lowHeight}, {lowWidth}]", nameof(samples));
        }

        int b = samples.Count;
        int plane = height * width, lowPlane = lowHeight * lowWidth;
        var image = new float[b * SynapseSample.Channels * plane];
        var label = new long[b * plane];
        var lowRes = new long[b * lowPlane];
        for (int i = 0; i < b; i++)
        {
            samples[i].CopyImage(image, i * SynapseSample.Channels * plane);
            SynapseSample.Copy(samples[i].Label, label, i * plane);
            SynapseSample.Copy(samples[i].LowResLabel, lowRes, i * lowPlane);
        }

        using var noScope = torch.NewDisposeScope();
        var imageTensor = torch.tensor(image, [b, SynapseSample.Channels, height, width], torch.ScalarType.Float32);
        var labelTensor = torch.tensor(label, [b, height, width], torch.ScalarType.Int64);
        var lowResTensor = torch.tensor(lowRes, [b, lowHeight, lowWidth], torch.ScalarType.Int64);
        noScope.Detach(imageTensor, labelTensor, lowResTensor);
        return new Batch(epoch, index, samples.Select(s => s.CaseName).ToArray(), imageTensor, labelTensor, lowResTensor);
    }

    public void Dispose()
    {
        Image.Dispose();
        Label.Dispose();
        LowResLabel.Dispose();
    }
}
