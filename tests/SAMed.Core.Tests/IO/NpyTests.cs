using SAMed.IO;
using SAMed.Tests.Reference;

namespace SAMed.Tests.IO;

public class NpyTests
{
    [Fact]
    public void RoundTripKeepsTypeShapeAndValues()
    {
        var array = NpyArray.FromFloat32([1.5f, -2f, 3.25f, 0f, 7f, 8f], 2, 3);
        using var stream = new MemoryStream();
        Npy.Write(stream, array);
        stream.Position = 0;
        var back = Npy.Read(stream, "memory");
        Assert.Equal(NpyType.Float32, back.Type);
        Assert.Equal([2L, 3L], back.Shape);
        Assert.Equal(array.ToFloat(), back.ToFloat());
    }

    [Fact]
    public void HeaderIsPaddedToSixtyFourBytes()
    {
        using var stream = new MemoryStream();
        Npy.Write(stream, NpyArray.FromInt64([1, 2, 3], 3));
        Assert.Equal(0, (stream.Length - 3 * 8) % 64);
    }

    [Fact]
    public void ReadsReferenceArraysWrittenByNumPy()
    {
        var input = Npy.Read(SharedPaths.Reference("parity", "tiny", "input.npy"));
        Assert.Equal(NpyType.Float32, input.Type);
        Assert.Equal(4, input.Shape.Length);
        var labels = Npy.Read(SharedPaths.Reference("parity", "tiny", "low_res_label.npy"));
        Assert.Equal(NpyType.Int64, labels.Type);
        Assert.All(labels.ToInt64(), v => Assert.InRange(v, 0, 3));
    }

    [Fact]
    public void TruncatedFileNamesTheFileAndTheProblem()
    {
        using var stream = new MemoryStream();
        Npy.Write(stream, NpyArray.FromFloat64([1, 2, 3, 4], 4));
        var truncated = new MemoryStream(stream.ToArray()[..^5]);
        var error = Assert.Throws<InvalidDataException>(() => Npy.Read(truncated, "cut.npy"));
        Assert.Contains("cut.npy", error.Message);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void FortranOrderIsConvertedToCOrder()
    {
        // np.asfortranarray(np.arange(6).reshape(2, 3)) stores 0 3 1 4 2 5.
        string header = "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }";
        header = header.PadRight(64 - 10 - 1) + "\n";
        using var stream = new MemoryStream();
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, 0]);
        stream.Write(System.Text.Encoding.ASCII.GetBytes(header));
        foreach (long v in new long[] { 0, 3, 1, 4, 2, 5 })
            stream.Write(BitConverter.GetBytes(v));
        stream.Position = 0;
        Assert.Equal([0L, 1, 2, 3, 4, 5], Npy.Read(stream, "f.npy").ToInt64());
    }
}

public class NpzTests
{
    [Fact]
    public void ReadsSamedTrainingSliceWrittenByNumPySavez()
    {
        string file = Directory.GetFiles(SharedPaths.Reference("prepare", "train_npz"), "*.npz").Order().First();
        var (image, label) = (Npz.Read(file, "image", "label")[0], Npz.Read(file, "image", "label")[1]);
        Assert.Equal(NpyType.Float32, image.Type);
        Assert.Equal(image.Shape, label.Shape);
        Assert.All(image.ToFloat(), v => Assert.InRange(v, 0f, 1f));
    }

    [Fact]
    public void RoundTripAndMissingMemberError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"npz-{Guid.NewGuid():N}.npz");
        try
        {
            Npz.Write(path, [new("image", NpyArray.FromFloat32([0.5f, 1f], 1, 2))]);
            Assert.Equal([0.5f, 1f], Npz.Read(path)["image"].ToFloat());
            var error = Assert.Throws<InvalidDataException>(() => Npz.Read(path, "image", "label"));
            Assert.Contains(path, error.Message);
            Assert.Contains("'label'", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
