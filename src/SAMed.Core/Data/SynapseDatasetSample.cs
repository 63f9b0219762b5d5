using TorchSharp;

namespace SAMed.Data;

/// <summary>
/// One training slice after SAMed's transform: the image as its channels (one grey plane, which SAMed repeats to 3
/// identical channels, as <see cref="ImageTensor"/> and batches do; or three colour planes R, G, B, used as they are),
/// the label and the low-resolution label the loss is computed on.
/// </summary>
public sealed record SynapseSample(string CaseName, float[][,] Planes, long[,] Label, long[,] LowResLabel)
{
    public const int Channels = 3;

    /// <summary>A grey sample.</summary>
    public SynapseSample(string caseName, float[,] image, long[,] label, long[,] lowResLabel)
        : this(caseName, [image], label, lowResLabel)
    {
    }

    /// <summary>The first image plane: the whole image for grey, the red channel for colour.</summary>
    public float[,] Image => Planes[0];

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

    /// <summary>Writes the 3 channels ([3, H, W]) at destination[offset..]: a grey plane repeated, or R, G, B.</summary>
    internal void CopyImage(float[] destination, int offset)
    {
        for (int c = 0; c < Channels; c++)
        {
            var source = Planes[Planes.Length == 1 ? 0 : c];
            System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref source[0, 0], source.Length)
                .CopyTo(destination.AsSpan(offset + c * source.Length, source.Length));
        }
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
