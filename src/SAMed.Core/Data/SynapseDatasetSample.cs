using TorchSharp;

namespace SAMed.Data;

/// <summary>
/// One training slice after SAMed's transform: the image (one channel; SAMed repeats it to 3 identical channels,
/// which <see cref="ImageTensor"/> and batches do), the label and the low-resolution label the loss is computed on.
/// </summary>
public sealed record SynapseSample(string CaseName, float[,] Image, long[,] Label, long[,] LowResLabel)
{
    public const int Channels = 3;

    public int Height => Image.GetLength(0);
    public int Width => Image.GetLength(1);

    /// <summary>[3, H, W] float32.</summary>
    public torch.Tensor ImageTensor()
    {
        var values = new float[Channels * Image.Length];
        CopyImage(values, 0);
        return torch.tensor(values, [Channels, Height, Width], torch.ScalarType.Float32);
    }

    /// <summary>[H, W] int64.</summary>
    public torch.Tensor LabelTensor() => ToTensor(Label);

    /// <summary>[H/4, W/4] int64 (SAMed's low_res size).</summary>
    public torch.Tensor LowResLabelTensor() => ToTensor(LowResLabel);

    /// <summary>Writes the image repeated to 3 channels at destination[offset..].</summary>
    internal void CopyImage(float[] destination, int offset)
    {
        var plane = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref Image[0, 0], Image.Length);
        for (int c = 0; c < Channels; c++)
            plane.CopyTo(destination.AsSpan(offset + c * Image.Length, Image.Length));
    }

    internal static void Copy(long[,] source, long[] destination, int offset) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref source[0, 0], source.Length)
            .CopyTo(destination.AsSpan(offset, source.Length));

    private static torch.Tensor ToTensor(long[,] values)
    {
        var flat = new long[values.Length];
        Copy(values, flat, 0);
        return torch.tensor(flat, [values.GetLength(0), values.GetLength(1)], torch.ScalarType.Int64);
    }
}
