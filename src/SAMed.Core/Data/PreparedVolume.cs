using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// One volume in SAMed's preprocessed layout, as prepare makes it from a NIfTI pair or as a test_vol_h5 file holds it:
/// Image (clipped and scaled to [0, 1]) and Label (class ids), both float32 in C order [Depth, Height, Width] = the
/// NIfTI voxel array [x, y, z] transposed (2, 1, 0), with no reorientation. A colour image (from a 2D image file)
/// has <see cref="Channels"/> 3 and is stored channels last, [Depth, Height, Width, 3]. <paramref name="Source"/> is the file
/// errors about the labels name.
/// </summary>
public sealed record PreparedVolume(
    string Name,
    int Depth,
    int Height,
    int Width,
    float[] Image,
    float[] Label,
    string Source)
{
    private static readonly IReadOnlyDictionary<int, long> NoCounts = new SortedDictionary<int, long>();

    /// <summary>The voxel size from the NIfTI header; null for h5 volumes, which carry none.</summary>
    public double[]? SpacingXyz { get; init; }

    /// <summary>The source NIfTI header, if the volume came from one.</summary>
    public NiftiHeader? Geometry { get; init; }

    /// <summary>Voxels per mapped class id, counted while mapping NIfTI labels; empty for volumes read from h5.</summary>
    public IReadOnlyDictionary<int, long> LabelVoxels { get; init; } = NoCounts;

    /// <summary>Voxels per source label id that the label map does not list (mapped to background).</summary>
    public IReadOnlyDictionary<int, long> UnlistedSourceVoxels { get; init; } = NoCounts;

    /// <summary>What preparing the volume noticed but did not refuse (e.g. the label's affine differs from the image's).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Image channels: 1 (grey, which the model sees repeated to three) or 3 (R, G, B).</summary>
    public int Channels { get; init; } = 1;

    /// <summary>True for a case made from a 2D image file (one slice, written to train_npz under the case's own name).</summary>
    public bool FromImageFile { get; init; }

    public int SliceSize => Height * Width;

    /// <summary>One grey image slice, [Height * Width].</summary>
    public float[] ImageSlice(int slice)
    {
        RequireGrey();
        return Image.AsSpan(slice * SliceSize, SliceSize).ToArray();
    }

    /// <summary>One image slice as its channels, each [Height, Width] (one plane for grey, R, G, B for colour).</summary>
    public float[][,] ImagePlanes(int slice) => Planes(Image, slice, Height, Width, Channels);

    /// <summary>Slice <paramref name="slice"/> of a [D, H, W] image (channels last: [D, H, W, C]) as its channels, each [H, W].</summary>
    public static float[][,] Planes(float[] image, int slice, int height, int width, int channels)
    {
        int size = height * width;
        var planes = new float[channels][,];
        long origin = (long)slice * size * channels;
        for (int c = 0; c < channels; c++)
        {
            var plane = new float[height, width];
            if (channels == 1)
                Buffer.BlockCopy(image, (int)origin * sizeof(float), plane, 0, size * sizeof(float));
            else
                for (int y = 0; y < height; y++)
                    for (int x = 0; x < width; x++)
                        plane[y, x] = image[origin + ((long)y * width + x) * channels + c];
            planes[c] = plane;
        }
        return planes;
    }

    public float[] LabelSlice(int slice) => Label.AsSpan(slice * SliceSize, SliceSize).ToArray();

    /// <summary>One image slice as a [Height, Width] array.</summary>
    public float[,] ImageSlice2D(int slice)
    {
        RequireGrey();
        var result = new float[Height, Width];
        Buffer.BlockCopy(Image, slice * SliceSize * sizeof(float), result, 0, SliceSize * sizeof(float));
        return result;
    }

    /// <summary>One label slice as a [Height, Width] array.</summary>
    public float[,] LabelSlice2D(int slice)
    {
        var result = new float[Height, Width];
        Buffer.BlockCopy(Label, slice * SliceSize * sizeof(float), result, 0, SliceSize * sizeof(float));
        return result;
    }

    private void RequireGrey()
    {
        if (Channels != 1)
            throw new InvalidOperationException($"{Name} has {Channels} image channels; read its slices with ImagePlanes");
    }
}
