using PureHDF;
using SAMed.IO;

namespace SAMed.Tests.IO;

/// <summary>Reading SAMed test volumes into arrays the caller allocates: values, conversions and what PureHDF allocates.</summary>
public sealed class SynapseH5ReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("synapse-h5-reader-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task ContiguousVolumeIsReadOnAnotherThreadWithoutLargeAllocations()
    {
        // 12 x 128 x 256 float32: 1.5 MB a dataset. PureHDF reads contiguous data straight into the span.
        string path = Path.Combine(_dir, "plain.npy.h5");
        var volume = SynapseH5Tests.MakeVolume(12, 128, 256);
        SynapseH5.Write(path, volume);
        using var reader = SynapseH5Reader.Open(path);
        Assert.False(reader.AllocatesAsItReads);
        var image = new float[reader.Length(SynapseH5.ImageKey)];
        var slice = new float[128 * 256];
        var label = new float[image.Length];

        long allocated = await Task.Run(() =>
        {
            reader.Read(SynapseH5.ImageKey, 0, image); // the first call loads PureHDF's code paths
            long before = GC.GetAllocatedBytesForCurrentThread();
            reader.Read(SynapseH5.ImageKey, 0, image);
            for (int z = 0; z < 12; z++)
            {
                reader.Read(SynapseH5.LabelKey, z, slice);
                slice.CopyTo(label, z * slice.Length);
            }
            return GC.GetAllocatedBytesForCurrentThread() - before;
        });

        Assert.Equal(volume.Image.ToFloat(), image);
        Assert.Equal(volume.Label.ToFloat(), label);
        Assert.True(allocated < 256 << 10, $"{allocated} bytes allocated reading 3 MB of contiguous data");
    }

    [Fact]
    public async Task ChunkedVolumeIsMarkedAsAllocatingAsItReads()
    {
        // PureHDF 2.2 decodes every chunk into a new array: reading allocates at least the data's size. If a PureHDF
        // version stops doing so, chunked volumes could be read ahead too (VolumeTestSource.StartLoadingH5).
        string path = Path.Combine(_dir, "gzip.npy.h5");
        var volume = SynapseH5Tests.MakeVolume(12, 128, 256);
        SynapseH5.Write(path, volume, compress: true);
        using var reader = SynapseH5Reader.Open(path);
        Assert.True(reader.AllocatesAsItReads);
        var image = new float[reader.Length(SynapseH5.ImageKey)];
        long allocated = await Task.Run(() =>
        {
            reader.Read(SynapseH5.ImageKey, 0, image);
            long before = GC.GetAllocatedBytesForCurrentThread();
            reader.Read(SynapseH5.ImageKey, 0, image);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        });
        Assert.Equal(volume.Image.ToFloat(), image);
        Assert.True(allocated >= image.Length * sizeof(float), $"{allocated} bytes allocated reading {image.Length * sizeof(float)} bytes of chunks");
    }

    [Fact]
    public void StoredTypesConvertAsACastToFloat()
    {
        long[] longs = [long.MinValue, long.MaxValue, 16777217, -16777217, 1L << 40, 3, 0, -1];
        ulong[] ulongs = [ulong.MaxValue, 16777217, (1UL << 63) + 1, 5, 0, 1, 2, 3];
        double[] doubles = [0.1, 1e-50, 1e39, -1e39, double.NaN, 1.0000001, 0.3333333333333333, -0.0];
        uint[] uints = [uint.MaxValue, 16777217, 7, 0, 1, 2, 3, 4];
        int[] ints = [int.MinValue, int.MaxValue, -16777217, 0, 1, 2, 3, 4];
        Check(longs, ulongs, v => v, v => v);
        Check(doubles, uints, v => (float)v, v => v);
        Check(ints, new sbyte[] { -128, 127, -1, 0, 1, 2, 3, 4 }, v => v, v => v);
        Check(new short[] { short.MinValue, short.MaxValue, -1, 0, 1, 2, 3, 4 }, new ushort[] { ushort.MaxValue, 0, 1, 2, 3, 4, 5, 6 }, v => v, v => v);

        void Check<TImage, TLabel>(TImage[] image, TLabel[] label, Func<TImage, float> imageCast, Func<TLabel, float> labelCast)
        {
            string path = Path.Combine(_dir, $"{typeof(TImage).Name}-{typeof(TLabel).Name}.npy.h5");
            new H5File
            {
                [SynapseH5.ImageKey] = new H5Dataset(image, fileDims: [2, 2, 2]),
                [SynapseH5.LabelKey] = new H5Dataset(label, fileDims: [2, 2, 2]),
            }.Write(path);
            var volume = SynapseH5.Read(path);
            Assert.Equal(image.Select(imageCast), volume.Image.ToFloat());
            Assert.Equal(label.Select(labelCast), volume.Label.ToFloat());
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SlabsOfConvertedSlicesCoverTheVolume(bool chunked)
    {
        // 256 x 1024 slices: 4 slices a slab, so 9 slices are read as 4 + 4 + 1 (a colour image 1 slice a slab); chunks
        // of 3 slices are cut by the slabs.
        string path = Path.Combine(_dir, "slabs.npy.h5");
        short[] image = Enumerable.Range(0, 9 * 256 * 1024).Select(i => (short)(i % 30011 - 15000)).ToArray();
        byte[] colour = Enumerable.Range(0, 9 * 256 * 1024 * 3).Select(i => (byte)(i * 7)).ToArray();
        byte[] label = Enumerable.Range(0, 9 * 256 * 1024).Select(i => (byte)(i % 9)).ToArray();
        var gzip = new PureHDF.VOL.Native.H5DatasetCreation(Filters: [new PureHDF.Filters.H5Filter(PureHDF.Filters.DeflateFilter.Id)]);
        H5Dataset Stored(Array values, ulong[] dims) => chunked
            ? new H5Dataset(values, chunks: [3, 64, 256, .. dims.Skip(3).Select(d => (uint)d)], fileDims: dims, datasetCreation: gzip)
            : new H5Dataset(values, fileDims: dims);
        foreach (var (values, dims, slabSlices) in new (Array, ulong[], int)[] { (image, [9, 256, 1024], 4), (colour, [9, 256, 1024, 3], 1) })
        {
            new H5File
            {
                [SynapseH5.ImageKey] = Stored(values, dims),
                [SynapseH5.LabelKey] = Stored(label, [9, 256, 1024]),
            }.Write(path);
            using var reader = SynapseH5Reader.Open(path);
            Assert.Equal(chunked, reader.AllocatesAsItReads);
            Assert.Equal(slabSlices, reader.SlabSlices);
            var floats = new float[values.Length];
            reader.Read(SynapseH5.ImageKey, 0, floats);
            Assert.Equal(values.Cast<object>().Select(v => v is short s ? s : (float)(byte)v), floats);
            var fromSlice5 = new float[4 * 256 * 1024];
            reader.Read(SynapseH5.LabelKey, 5, fromSlice5);
            Assert.Equal(label.Skip(5 * 256 * 1024).Select(v => (float)v), fromSlice5);
        }
    }

    [Fact]
    public void ReadingPastTheLastSliceIsRefused()
    {
        string path = Path.Combine(_dir, "v.npy.h5");
        SynapseH5.Write(path, SynapseH5Tests.MakeVolume(3, 5, 7));
        using var reader = SynapseH5Reader.Open(path);
        var error = Assert.Throws<ArgumentException>(() => reader.Read(SynapseH5.LabelKey, 2, new float[2 * 35]));
        Assert.Contains(path, error.Message);
        Assert.Throws<ArgumentException>(() => reader.Read(SynapseH5.LabelKey, 0, new float[34]));
    }
}
