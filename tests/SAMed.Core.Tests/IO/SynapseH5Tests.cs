using System.Text.Json;
using SAMed.IO;
using SAMed.Tests.Reference;

namespace SAMed.Tests.IO;

public sealed class SynapseH5Tests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("synapse-h5-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> ReferenceVolumes()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(SharedPaths.Reference("prepare", "test_vol_h5"), "*.npy.h5").Order())
            data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(ReferenceVolumes))]
    public void ReadsVolumesWrittenByH5py(string name)
    {
        var volume = SynapseH5.Read(SharedPaths.Reference("prepare", "test_vol_h5", name));
        using var json = JsonDocument.Parse(File.ReadAllText(SharedPaths.Reference("prepare", "prepare.json")));
        long[] shape = json.RootElement.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        Assert.Equal(shape, volume.Image.Shape);
        Assert.Equal(shape, volume.Label.Shape);
        Assert.Equal(NpyType.Float32, volume.Image.Type);
        Assert.All(volume.Image.ToFloat(), v => Assert.InRange(v, 0f, 1f));
        var counts = volume.Label.ToFloat().GroupBy(v => v).ToDictionary(g => g.Key, g => (long)g.Count());
        var expected = json.RootElement.GetProperty("label_voxels").EnumerateObject()
            .ToDictionary(p => float.Parse(p.Name, System.Globalization.CultureInfo.InvariantCulture), p => p.Value.GetInt64());
        Assert.Equal(expected.OrderBy(p => p.Key), counts.OrderBy(p => p.Key));
    }

    [Theory]
    [MemberData(nameof(ReferenceVolumes))]
    public void ReferenceVolumeMatchesItsTrainingSlices(string name)
    {
        // preprocess_data.py writes slice k of the same case as case_slice{k:03d}.npz; both must hold the same values.
        var volume = SynapseH5.Read(SharedPaths.Reference("prepare", "test_vol_h5", name));
        string caseName = name[..^".npy.h5".Length];
        float[] image = volume.Image.ToFloat();
        float[] label = volume.Label.ToFloat();
        int sliceSize = checked((int)(volume.Image.Shape[1] * volume.Image.Shape[2]));
        for (int k = 0; k < volume.Image.Shape[0]; k++)
        {
            string npz = SharedPaths.Reference("prepare", "train_npz", $"{caseName}_slice{k:000}.npz");
            var arrays = Npz.Read(npz, "image", "label");
            Assert.Equal(image.AsSpan(k * sliceSize, sliceSize).ToArray(), arrays[0].ToFloat());
            Assert.Equal(label.AsSpan(k * sliceSize, sliceSize).ToArray(), arrays[1].ToFloat());
        }
    }

    private static string Fixture(string name) => Path.Combine(SharedPaths.RepositoryRoot, "tests", "SAMed.Core.Tests", "IO", "Fixtures", name);

    [Theory]
    [InlineData("gzip.npy.h5")]
    [InlineData("gzip_shuffle_types.npy.h5")]
    public void ReadsGzipCompressedVolumesWrittenByH5py(string name)
    {
        // Fixtures/make_h5_fixtures.py: image[i] = i / 128, label[i] = i % 9, shape (3, 5, 7); chunked, gzip (+ shuffle,
        // float64 image and uint8 label in the second file).
        var volume = SynapseH5.Read(Fixture(name));
        Assert.Equal([3L, 5, 7], volume.Image.Shape);
        Assert.Equal([3L, 5, 7], volume.Label.Shape);
        Assert.Equal((NpyType.Float32, NpyType.Float32), (volume.Image.Type, volume.Label.Type));
        Assert.Equal(Enumerable.Range(0, 105).Select(i => i / 128f), volume.Image.ToFloat());
        Assert.Equal(Enumerable.Range(0, 105).Select(i => (float)(i % 9)), volume.Label.ToFloat());
    }

    [Fact]
    public void MissingImageInH5pyFileIsNamed()
    {
        string path = Fixture("no_image.npy.h5");
        var error = Assert.Throws<InvalidDataException>(() => SynapseH5.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("'image'", error.Message);
        Assert.Contains("label", error.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RoundTripPlainAndGzip(bool compress)
    {
        var volume = MakeVolume(3, 5, 7);
        string path = Path.Combine(_dir, "v.npy.h5");
        SynapseH5.Write(path, volume, compress);
        var back = SynapseH5.Read(path);
        Assert.Equal(volume.Image.Shape, back.Image.Shape);
        Assert.Equal(volume.Image.ToFloat(), back.Image.ToFloat());
        Assert.Equal(volume.Label.ToFloat(), back.Label.ToFloat());
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void GzipIsSmallerForCompressibleData()
    {
        var volume = new VolumeArrays(NpyArray.FromFloat32(new float[4 * 32 * 32], 4, 32, 32), NpyArray.FromFloat32(new float[4 * 32 * 32], 4, 32, 32));
        string plain = Path.Combine(_dir, "plain.npy.h5");
        string gzip = Path.Combine(_dir, "gzip.npy.h5");
        SynapseH5.Write(plain, volume);
        SynapseH5.Write(gzip, volume, compress: true);
        Assert.True(new FileInfo(gzip).Length < new FileInfo(plain).Length / 4);
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        string path = Path.Combine(_dir, "absent.npy.h5");
        var error = Assert.Throws<FileNotFoundException>(() => SynapseH5.Read(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void NotHdf5IsNamed()
    {
        string path = Path.Combine(_dir, "text.npy.h5");
        File.WriteAllText(path, "this is not an HDF5 file at all, just some text of moderate length.");
        var error = Assert.Throws<InvalidDataException>(() => SynapseH5.Read(path));
        Assert.Contains(path, error.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedFileIsNamed(bool compress)
    {
        string path = Path.Combine(_dir, "cut.npy.h5");
        SynapseH5.Write(path, MakeVolume(4, 16, 16), compress);
        byte[] bytes = File.ReadAllBytes(path);
        foreach (double fraction in new[] { 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99 })
        {
            File.WriteAllBytes(path, bytes[..(int)(bytes.Length * fraction)]);
            var error = Assert.Throws<InvalidDataException>(() => SynapseH5.Read(path));
            Assert.Contains(path, error.Message);
        }
    }

    [Theory]
    [MemberData(nameof(ReferenceVolumes))]
    public void TruncatedH5pyFileIsNamed(string name)
    {
        byte[] bytes = File.ReadAllBytes(SharedPaths.Reference("prepare", "test_vol_h5", name));
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes[..(bytes.Length * 3 / 5)]);
        var error = Assert.Throws<InvalidDataException>(() => SynapseH5.Read(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void MissingDatasetIsNamed()
    {
        string path = Path.Combine(_dir, "nolabel.npy.h5");
        new PureHDF.H5File { ["image"] = new PureHDF.H5Dataset(new float[8], fileDims: [2, 2, 2]) }.Write(path);
        var error = Assert.Throws<InvalidDataException>(() => SynapseH5.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("'label'", error.Message);
    }

    [Fact]
    public void ShapeMismatchIsNamed()
    {
        string path = Path.Combine(_dir, "mismatch.npy.h5");
        new PureHDF.H5File
        {
            ["image"] = new PureHDF.H5Dataset(new float[8], fileDims: [2, 2, 2]),
            ["label"] = new PureHDF.H5Dataset(new float[12], fileDims: [3, 2, 2]),
        }.Write(path);
        var error = Assert.Throws<InvalidDataException>(() => SynapseH5.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("differs", error.Message);
    }

    [Fact]
    public void IntegerAndDoubleDatasetsAreConvertedToFloat32()
    {
        string path = Path.Combine(_dir, "types.npy.h5");
        new PureHDF.H5File
        {
            ["image"] = new PureHDF.H5Dataset(new double[] { 0.25, 0.5, 0.75, 1 }, fileDims: [1, 2, 2]),
            ["label"] = new PureHDF.H5Dataset(new byte[] { 0, 1, 2, 8 }, fileDims: [1, 2, 2]),
        }.Write(path);
        var volume = SynapseH5.Read(path);
        Assert.Equal([0.25f, 0.5f, 0.75f, 1f], volume.Image.ToFloat());
        Assert.Equal([0f, 1f, 2f, 8f], volume.Label.ToFloat());
        Assert.Equal(NpyType.Float32, volume.Label.Type);
    }

    internal static VolumeArrays MakeVolume(int d, int h, int w)
    {
        int n = d * h * w;
        float[] image = Enumerable.Range(0, n).Select(i => (float)Math.Sin(i * 0.37) * 0.5f + 0.5f).ToArray();
        float[] label = Enumerable.Range(0, n).Select(i => (float)(i * 7 % 9)).ToArray();
        return new VolumeArrays(NpyArray.FromFloat32(image, d, h, w), NpyArray.FromFloat32(label, d, h, w));
    }
}
