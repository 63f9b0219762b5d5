using System.Runtime.InteropServices;
using PureHDF;
using SAMed.Data;
using SAMed.IO;
using SAMed.Tests.IO;
using SAMed.Tests.Reference;
using SAMed.VolumeTesting;

namespace SAMed.Tests.VolumeTesting;

/// <summary>
/// SAMed h5 test volumes read for a test (<see cref="VolumeTestSource.StartLoadingH5"/>): contiguous files on the thread
/// pool, chunked ones when needed, the same values as <see cref="SynapseH5.Read"/> either way.
/// </summary>
public sealed class VolumeTestSourceH5Tests : IDisposable
{
    private const int NumClasses = 8;

    private readonly string _dir = Directory.CreateTempSubdirectory("volume-source-h5-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, bool> Files() => new()
    {
        { "float32 contiguous", false },
        { "float32 chunked gzip", true },
        { "int16 image, uint8 label, contiguous", false },
        { "int32 image, int64 label, contiguous", false },
        { "colour uint8 image, float64 label, contiguous", false },
        { "h5py gzip.npy.h5", true },
        { "h5py gzip_shuffle_types.npy.h5 (float64 image, uint8 label, chunked)", true },
    };

    [Theory]
    [MemberData(nameof(Files))]
    public async Task ReadAheadGivesTheValuesOfSynapseH5Read(string file, bool chunked)
    {
        string path = Write(file);
        var expected = SynapseH5.Read(path);

        var loading = VolumeTestSource.StartLoadingH5("case", path, NumClasses);
        Assert.Equal(chunked, loading.Status == TaskStatus.Created);
        if (chunked)
            loading.RunSynchronously();
        var volume = await loading;

        long[] shape = expected.Image.Shape;
        Assert.Equal((shape[0], shape[1], shape[2]), (volume.Depth, volume.Height, volume.Width));
        Assert.Equal(shape.Length == 4 ? 3 : 1, volume.Channels);
        Assert.Equal(path, volume.Source);
        Assert.Equal(BitsOf(expected.Image.ToFloat()), BitsOf(ImageOf(volume)));
        Assert.Equal(expected.Label.ToFloat().Select(v => (byte)v), volume.Labels);
        Assert.Equal(WrittenValues(file), expected.Image.ToFloat());
    }

    [Theory]
    [MemberData(nameof(ReferenceVolumes))]
    public async Task ReadAheadOfH5pyVolumesMatchesSynapseH5Read(string name)
    {
        string path = SharedPaths.Reference("prepare", "test_vol_h5", name);
        var expected = SynapseH5.Read(path);
        var loading = VolumeTestSource.StartLoadingH5(name, path, NumClasses);
        Assert.NotEqual(TaskStatus.Created, loading.Status);
        var volume = await loading;
        Assert.Equal(BitsOf(expected.Image.ToFloat()), BitsOf(ImageOf(volume)));
        Assert.Equal(expected.Label.ToFloat().Select(v => (byte)v), volume.Labels);
    }

    public static TheoryData<string> ReferenceVolumes()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(SharedPaths.Reference("prepare", "test_vol_h5"), "*.npy.h5").Order())
            data.Add(Path.GetFileName(file));
        return data;
    }

    [Fact]
    public void AContiguousVolumeIsReadWhileTheCallerIsBusy()
    {
        string[] paths = [Write("float32 contiguous", "a"), Write("int16 image, uint8 label, contiguous", "b")];
        var started = new Task<StoredVolume>[2];
        bool nextReadWhileBusy = false;
        FilePipeline.Run(
            2,
            startReading: i => started[i] = VolumeTestSource.StartLoadingH5($"v{i}", paths[i], NumClasses),
            process: (i, volume) =>
            {
                // The caller is busy with volume 0 and does not run volume 1's reading: it must end on its own.
                if (i == 0)
                    nextReadWhileBusy = started[1].Status != TaskStatus.Created && SpinWait.SpinUntil(() => started[1].IsCompleted, TimeSpan.FromMinutes(2));
                return volume.Depth;
            },
            write: (_, _) => { });
        Assert.True(nextReadWhileBusy);
        Assert.Equal(TaskStatus.RanToCompletion, started[1].Status);
    }

    [Fact]
    public async Task AMissingDatasetIsAnErrorNamingTheFileWhenAwaited()
    {
        string path = Path.Combine(_dir, "nolabel.npy.h5");
        new H5File { [SynapseH5.ImageKey] = new H5Dataset(new float[8], fileDims: [2, 2, 2]) }.Write(path);
        var loading = VolumeTestSource.StartLoadingH5("nolabel", path, NumClasses);
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => loading);
        Assert.StartsWith($"{path}: no 'label' dataset (it has: image)", error.Message);
    }

    [Fact]
    public async Task ACutFileIsAnErrorNamingTheFileWhenAwaited()
    {
        // h5py writes the metadata first: most cuts leave a file that opens and fails when its data is read on the pool.
        byte[] bytes = File.ReadAllBytes(Directory.GetFiles(SharedPaths.Reference("prepare", "test_vol_h5"), "*.npy.h5").Order().First());
        string path = Path.Combine(_dir, "cut.npy.h5");
        int openedButUnreadable = 0;
        foreach (double fraction in new[] { 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99 })
        {
            File.WriteAllBytes(path, bytes[..(int)(bytes.Length * fraction)]);
            var loading = VolumeTestSource.StartLoadingH5("cut", path, NumClasses);
            Assert.NotEqual(TaskStatus.Created, loading.Status);
            var error = await Assert.ThrowsAsync<InvalidDataException>(() => loading);
            Assert.StartsWith($"{path}: not a readable HDF5 volume; truncated, damaged or not HDF5 (", error.Message);
            if (CanOpen(path))
                openedButUnreadable++;
        }
        Assert.True(openedButUnreadable > 0, "no cut left the headers readable: the error of a failed data read is not tested");
    }

    [Fact]
    public async Task ACorruptChunkIsAnErrorNamingTheFileWhenTheVolumeIsRead()
    {
        string path = Path.Combine(_dir, "corrupt.npy.h5");
        SynapseH5.Write(path, SynapseH5Tests.MakeVolume(6, 32, 40), compress: true);
        byte[] bytes = File.ReadAllBytes(path);
        bytes.AsSpan(bytes.Length * 2 / 5, bytes.Length / 5).Fill(0xff);
        File.WriteAllBytes(path, bytes);
        Assert.True(CanOpen(path), "the corruption reached the metadata: the error of a failed chunk read is not tested");
        var loading = VolumeTestSource.StartLoadingH5("corrupt", path, NumClasses);
        Assert.Equal(TaskStatus.Created, loading.Status);
        loading.RunSynchronously();
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => loading);
        Assert.StartsWith($"{path}: not a readable HDF5 volume; truncated, damaged or not HDF5 (", error.Message);
    }

    [Fact]
    public async Task NotHdf5OrMissingIsAnErrorNamingTheFileWhenAwaited()
    {
        string path = Path.Combine(_dir, "text.npy.h5");
        File.WriteAllText(path, "not HDF5 at all, just some text of moderate length for the superblock search.");
        var notHdf5 = VolumeTestSource.StartLoadingH5("text", path, NumClasses);
        Assert.StartsWith($"{path}: not a readable HDF5 volume", (await Assert.ThrowsAsync<InvalidDataException>(() => notHdf5)).Message);
        string absent = Path.Combine(_dir, "absent.npy.h5");
        var missing = VolumeTestSource.StartLoadingH5("absent", absent, NumClasses);
        Assert.Equal($"{absent}: file not found", (await Assert.ThrowsAsync<FileNotFoundException>(() => missing)).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ALabelOutOfRangeInALaterSlabIsNamedWithItsVoxel(bool compress)
    {
        // 256 x 1024 slices are read 4 a slab: slice 6 is in the second.
        string path = Path.Combine(_dir, "bad.npy.h5");
        var label = new float[9 * 256 * 1024];
        label[(6L * 256 + 200) * 1024 + 1000] = NumClasses + 1;
        label[(7L * 256 + 3) * 1024 + 4] = 0.5f;
        SynapseH5.Write(path, new VolumeArrays(NpyArray.FromFloat32(new float[label.Length], 9, 256, 1024), NpyArray.FromFloat32(label, 9, 256, 1024)), compress);
        var loading = VolumeTestSource.StartLoadingH5("bad", path, NumClasses);
        if (loading.Status == TaskStatus.Created)
            loading.RunSynchronously();
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => loading);
        Assert.StartsWith($"{path}: ground-truth label 9 at (slice 6, y 200, x 1000) is outside 0..8", error.Message);
    }

    private static bool CanOpen(string path)
    {
        try
        {
            SynapseH5Reader.Open(path).Dispose();
            return true;
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }

    private static float[] ImageOf(StoredVolume volume)
    {
        using var stream = new MemoryStream();
        volume.WriteImageFloat32(stream);
        return MemoryMarshal.Cast<byte, float>(stream.ToArray()).ToArray();
    }

    private static int[] BitsOf(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];

    private static string Fixture(string name) => Path.Combine(SharedPaths.RepositoryRoot, "tests", "SAMed.Core.Tests", "IO", "Fixtures", name);

    /// <summary>The values file <paramref name="file"/> holds as float32 (a cast of the stored values).</summary>
    private static float[] WrittenValues(string file) => file switch
    {
        _ when file.StartsWith("h5py", StringComparison.Ordinal) => [.. Enumerable.Range(0, 105).Select(i => i / 128f)],
        _ when file.StartsWith("float32", StringComparison.Ordinal) => SynapseH5Tests.MakeVolume(7, 30, 20).Image.ToFloat(),
        _ when file.StartsWith("int16", StringComparison.Ordinal) => [.. Sequence(7 * 30 * 20).Select(i => (float)(short)(i * 37 - 2000))],
        _ when file.StartsWith("int32", StringComparison.Ordinal) => [.. Sequence(7 * 30 * 20).Select(i => (float)(i * 16777215 + 3))],
        _ => [.. Sequence(7 * 30 * 20 * 3).Select(i => (float)(byte)(i * 5))],
    };

    private static IEnumerable<int> Sequence(int count) => Enumerable.Range(0, count);

    private string Write(string file, string name = "v")
    {
        if (file.StartsWith("h5py", StringComparison.Ordinal))
            return Fixture(file.Split(' ')[1]);
        string path = Path.Combine(_dir, name + ".npy.h5");
        int n = 7 * 30 * 20;
        ulong[] dims = [7, 30, 20];
        var labels = Sequence(n).Select(i => i * 5 % (NumClasses + 1)).ToArray();
        if (file.StartsWith("float32", StringComparison.Ordinal))
        {
            var volume = SynapseH5Tests.MakeVolume(7, 30, 20);
            SynapseH5.Write(path, volume with { Label = NpyArray.FromFloat32([.. labels.Select(v => (float)v)], 7, 30, 20) }, compress: file.Contains("gzip"));
            return path;
        }
        (Array image, ulong[] imageDims, Array label) = file switch
        {
            _ when file.StartsWith("int16", StringComparison.Ordinal) =>
                ((Array)Sequence(n).Select(i => (short)(i * 37 - 2000)).ToArray(), dims, (Array)labels.Select(v => (byte)v).ToArray()),
            _ when file.StartsWith("int32", StringComparison.Ordinal) =>
                (Sequence(n).Select(i => i * 16777215 + 3).ToArray(), dims, labels.Select(v => (long)v).ToArray()),
            _ => (Sequence(n * 3).Select(i => (byte)(i * 5)).ToArray(), [7, 30, 20, 3], labels.Select(v => (double)v).ToArray()),
        };
        new H5File
        {
            [SynapseH5.ImageKey] = new H5Dataset(image, fileDims: imageDims),
            [SynapseH5.LabelKey] = new H5Dataset(label, fileDims: dims),
        }.Write(path);
        return path;
    }
}
