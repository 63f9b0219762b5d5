using System.Runtime.InteropServices;
using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// A test volume as test holds it: the image in its stored type, read slice by slice as the model sees it, and the
/// checked ground truth, one byte a voxel; both C order [Depth, Height, Width] (the NIfTI voxel array as stored,
/// SAMed's layout). The image is a NIfTI image's stored voxels, windowed to [0, 1] a row at a time exactly as
/// <see cref="Prepare.Load"/> windows the whole volume, or a prepared float32 image (a SAMed h5 test volume, a 2D image
/// case) used as is. <see cref="Source"/> is the file errors about the labels name.
/// </summary>
public sealed class StoredVolume
{
    private readonly NiftiImage? nifti;
    private readonly string? imagePath;
    private readonly float[]? prepared;
    private readonly float windowMin;
    private readonly float windowMax;

    private StoredVolume(string name, string source, int depth, int height, int width, byte[] labels, float[]? prepared = null)
    {
        this.prepared = prepared;
        Name = name;
        Source = source;
        Depth = depth;
        Height = height;
        Width = width;
        Labels = labels;
    }

    /// <summary>
    /// A 3D NIfTI image (of <paramref name="imagePath"/>) kept as stored ([X, Y, Z] = C order [Z, Y, X]), windowed to
    /// [min, max] as it is read, with its checked labels.
    /// </summary>
    public StoredVolume(string name, string source, NiftiImage image, string imagePath, float windowMin, float windowMax, byte[] labels)
        : this(name, source, Size(image, 2), Size(image, 1), Size(image, 0), labels)
    {
        if (image.VoxelCount != labels.LongLength)
            throw new ArgumentException($"{source}: {labels.LongLength} labels for an image of shape [{string.Join(", ", image.Shape)}]");
        nifti = image;
        this.imagePath = imagePath;
        this.windowMin = windowMin;
        this.windowMax = windowMax;
        var header = image.Header;
        SpacingXyz = [.. header.PixDim.Skip(1).Take(3).Select(v => (double)Math.Abs(v))];
        Geometry = header;
    }

    public string Name { get; }

    public string Source { get; }

    public int Depth { get; }

    public int Height { get; }

    public int Width { get; }

    /// <summary>Image channels: 1 (grey) or 3 (a colour image of a 2D image case, stored channels last).</summary>
    public int Channels { get; private init; } = 1;

    public int SliceSize => Height * Width;

    /// <summary>The ground truth, class ids 0..num_classes, one byte a voxel.</summary>
    public byte[] Labels { get; }

    /// <summary>The voxel size from the NIfTI header; null for h5 volumes, which carry none.</summary>
    public double[]? SpacingXyz { get; private init; }

    /// <summary>The source NIfTI header, if the volume came from one.</summary>
    public NiftiHeader? Geometry { get; private init; }

    /// <summary>A prepared volume's image as is, its labels checked (see <see cref="CheckLabels"/>).</summary>
    public static StoredVolume FromPrepared(PreparedVolume volume, int numClasses)
    {
        if (volume.Label.Length != (long)volume.Depth * volume.SliceSize || volume.Image.Length != (long)volume.Depth * volume.SliceSize * volume.Channels)
            throw new InvalidDataException($"{volume.Source}: image ({volume.Image.Length}) and label ({volume.Label.Length}) sizes differ from "
                + $"[{volume.Depth}, {volume.Height}, {volume.Width}]" + (volume.Channels == 1 ? "" : $" with {volume.Channels} image channels"));
        var labels = CheckLabels(volume.Label, numClasses, volume.Source, volume.Height, volume.Width);
        return new StoredVolume(volume.Name, volume.Source, volume.Depth, volume.Height, volume.Width, labels, volume.Image)
        {
            Channels = volume.Channels,
            SpacingXyz = volume.SpacingXyz,
            Geometry = volume.Geometry,
        };
    }

    /// <summary>
    /// A float32 image used as is ([D, H, W], or [D, H, W, channels]) with its ground truth, one byte a voxel, already
    /// checked by <see cref="CheckLabels(ReadOnlySpan{float}, Span{byte}, long, int, string, int, int)"/>.
    /// </summary>
    public static StoredVolume FromFloat32(string name, string source, int depth, int height, int width, int channels, float[] image, byte[] labels)
    {
        if (labels.LongLength != (long)depth * height * width || image.LongLength != labels.LongLength * channels)
            throw new ArgumentException($"{source}: image ({image.LongLength}) and label ({labels.LongLength}) sizes differ from [{depth}, {height}, {width}] with {channels} image channel(s)");
        return new StoredVolume(name, source, depth, height, width, labels, image) { Channels = channels };
    }

    /// <summary>
    /// Labels as bytes, checked: every value must be a whole number in 0..numClasses, else an error naming the file,
    /// the value and where it is.
    /// </summary>
    public static byte[] CheckLabels(ReadOnlySpan<float> values, int numClasses, string source, int height, int width)
    {
        var labels = new byte[values.Length];
        CheckLabels(values, labels, 0, numClasses, source, height, width);
        return labels;
    }

    /// <summary>
    /// Checks a run of label values and puts them into <paramref name="labels"/> as bytes (the same length);
    /// <paramref name="firstIndex"/> is the first value's flat index in the [D, H, W] volume, which errors name.
    /// </summary>
    public static void CheckLabels(ReadOnlySpan<float> values, Span<byte> labels, long firstIndex, int numClasses, string source, int height, int width)
    {
        RequireByteClasses(numClasses);
        if (labels.Length != values.Length)
            throw new ArgumentException($"{values.Length} label values for {labels.Length} bytes", nameof(labels));
        for (int i = 0; i < labels.Length; i++)
        {
            float value = values[i];
            if (!(value >= 0 && value <= numClasses) || value != MathF.Floor(value))
                throw LabelOutOfRange(source, value, firstIndex + i, height, width, numClasses);
            labels[i] = (byte)value;
        }
    }

    /// <summary>The error for a ground-truth label outside 0..numClasses at flat index <paramref name="index"/> of a [D, H, W] volume.</summary>
    public static InvalidDataException LabelOutOfRange(string source, double value, long index, int height, int width, int numClasses) =>
        new($"{source}: ground-truth label {value} at (slice {index / ((long)height * width)}, y {index / width % height}, x {index % width}) "
            + $"is outside 0..{numClasses} (num_classes = {numClasses}) or not a whole number");

    public static void RequireByteClasses(int numClasses)
    {
        if (numClasses is < 1 or > byte.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "test label maps hold 1..255 classes (one byte a voxel)");
    }

    /// <summary>One image slice as its channels, each [Height, Width] (one plane for grey, R, G, B for colour).</summary>
    public float[][,] ImagePlanes(int slice)
    {
        if (prepared is not null)
            return PreparedVolume.Planes(prepared, slice, Height, Width, Channels);
        var plane = new float[Height, Width];
        for (int y = 0; y < Height; y++)
            CopyImageRow(slice, y, MemoryMarshal.CreateSpan(ref plane[y, 0], Width));
        return [plane];
    }

    /// <summary>
    /// One grey image row (slice, y) as the model sees it: a NIfTI image's scaled values (as <see cref="NiftiImage.ToFloat"/>
    /// computes them) windowed by <see cref="HuWindow.Apply"/>, or the prepared values. NaN or infinity is an error.
    /// </summary>
    public void CopyImageRow(int slice, int y, Span<float> row)
    {
        long start = ((long)slice * Height + y) * Width;
        if (prepared is not null)
        {
            if (Channels != 1)
                throw new InvalidOperationException($"{Name} has {Channels} image channels; read its slices with ImagePlanes");
            prepared.AsSpan((int)start, Width).CopyTo(row);
            return;
        }
        nifti!.CopyFloats(start, 1, row[..Width]);
        for (int x = 0; x < Width; x++)
        {
            float value = row[x];
            if (!float.IsFinite(value))
                throw NonFiniteImage(start + x);
            row[x] = HuWindow.Apply(value, windowMin, windowMax);
        }
    }

    /// <summary>The first NaN or infinite stored voxel as an error naming the image file, or null.</summary>
    public InvalidDataException? FindNonFiniteImage()
    {
        long bad = nifti?.FirstNonFiniteVoxel() ?? -1;
        return bad < 0 ? null : NonFiniteImage(bad);
    }

    /// <summary>
    /// The image as float32 little-endian bytes, C order [D, H, W] (channels last for colour), as the model sees it:
    /// a prepared image's array as is, a NIfTI image windowed a slice at a time (no copy of the volume is made). Written
    /// slice by slice, a gzip stream gives the same bytes as from one write of the whole array (row-sized writes
    /// compress differently; VolumeTestNiftiTests compares the files).
    /// </summary>
    public void WriteImageFloat32(Stream stream)
    {
        if (prepared is not null)
        {
            stream.Write(MemoryMarshal.AsBytes(prepared.AsSpan()));
            return;
        }
        var slice = new float[SliceSize];
        for (int z = 0; z < Depth; z++)
        {
            for (int y = 0; y < Height; y++)
                CopyImageRow(z, y, slice.AsSpan(y * Width, Width));
            stream.Write(MemoryMarshal.AsBytes(slice.AsSpan()));
        }
    }

    private static int Size(NiftiImage image, int axis) => image.Shape.Length > axis ? image.Shape[axis] : 1;

    private InvalidDataException NonFiniteImage(long index) =>
        new($"{imagePath}: image value {(float)nifti!.GetValue(index)} at voxel {Prepare.Voxel(index, Width, Height)} (images must be finite)");
}
