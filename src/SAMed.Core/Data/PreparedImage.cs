using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// An image volume preprocessed like SAMed's training data (clipped, scaled, float32 [Depth, Height, Width] in C order),
/// with the NIfTI it came from. A prediction in the same [D, H, W] order goes back to NIfTI on the source's grid and
/// geometry with <c>NiftiImage.FromLabels(Source, prediction)</c>, since x-fastest disk order is C order [z, y, x].
/// </summary>
public sealed record PreparedImage(NiftiImage Source, int Depth, int Height, int Width, float[] Image)
{
    public float[] Slice(int slice) => Image.AsSpan(slice * Height * Width, Height * Width).ToArray();
}
