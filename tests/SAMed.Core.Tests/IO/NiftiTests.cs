using System.Buffers.Binary;
using System.IO.Compression;
using SAMed.IO;
using SAMed.Tests.Reference;

namespace SAMed.Tests.IO;

public sealed class NiftiTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("nifti-tests-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>A header with a rotated, shifted geometry and both transforms set, as scanners write them.</summary>
    private static NiftiHeader Geometry() => new()
    {
        Dim = [3, 4, 3, 2, 1, 1, 1, 1],
        PixDim = [-1, 0.75f, 0.8f, 2.5f, 1, 1, 1, 1],
        XyztUnits = 10,
        QformCode = 1,
        SformCode = 2,
        QuaternB = 0,
        QuaternC = 1,
        QuaternD = 0,
        QOffsetX = 120.5f,
        QOffsetY = -60.25f,
        QOffsetZ = -800,
        SRowX = [-0.75f, 0, 0, 120.5f],
        SRowY = [0, 0.8f, 0, -60.25f],
        SRowZ = [0, 0, 2.5f, -800],
        Descrip = "round trip",
        DataType = (short)NiftiDataType.UInt8,
        BitPix = 8,
    };

    public static TheoryData<NiftiDataType, string> TypesAndExtensions()
    {
        var data = new TheoryData<NiftiDataType, string>();
        foreach (var type in Enum.GetValues<NiftiDataType>())
            foreach (string extension in new[] { ".nii", ".nii.gz" })
                data.Add(type, extension);
        return data;
    }

    [Theory]
    [MemberData(nameof(TypesAndExtensions))]
    public void RoundTripKeepsTypeValuesAndGeometry(NiftiDataType type, string extension)
    {
        var (min, max) = type.Range();
        double low = Math.Max(min, -1e6), high = Math.Min(max, 1e6);
        var values = Enumerable.Range(0, 24).Select(i => i switch
        {
            0 => low,
            1 => high,
            _ => type.IsFloatingPoint() ? (i - 7) * 1.25 : Math.Clamp(i * 9 - 40, low, high),
        }).ToArray();
        var image = NiftiImage.Create(Geometry(), [4, 3, 2], type, values);
        string path = Path.Combine(dir, "image" + extension);

        Nifti.Write(path, image);
        var back = Nifti.Read(path);

        Assert.Equal(type, back.DataType);
        Assert.Equal([4, 3, 2], back.Shape);
        Assert.Equal(values.Select(v => type == NiftiDataType.Float32 ? (float)v : v), back.ToDouble());
        Assert.Equal(image.RawData.ToArray(), back.RawData.ToArray());
        AssertSameGeometry(image.Header, back.Header);
        Assert.Equal(image.Affine, back.Affine);
        Assert.Equal(extension == ".nii.gz", IsGzip(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void ReadWriteReadOfARealScanKeepsEverything()
    {
        var ct = Nifti.Read(SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz"));
        string path = Path.Combine(dir, "ct.nii.gz");
        Nifti.Write(path, ct);
        var back = Nifti.Read(path);
        Assert.Equal(ct.Shape, back.Shape);
        Assert.Equal(ct.DataType, back.DataType);
        Assert.Equal(ct.RawData.ToArray(), back.RawData.ToArray());
        AssertSameGeometry(ct.Header, back.Header);
        Assert.Equal(ct.Header.SclSlope, back.Header.SclSlope);
        Assert.Equal(ct.Header.SclInter, back.Header.SclInter);
    }

    [Fact]
    public void FourDimensionalImagesWithOneTimePointRoundTrip()
    {
        var values = Enumerable.Range(0, 24).Select(i => (double)i).ToArray();
        var image = NiftiImage.Create(Geometry(), [2, 3, 4, 1], NiftiDataType.Int16, values);
        string path = Path.Combine(dir, "four.nii");
        Nifti.Write(path, image);
        var back = Nifti.Read(path);
        Assert.Equal([2, 3, 4, 1], back.Shape);
        Assert.Equal(values, back.ToDouble());
        Assert.Equal(23, back[1, 2, 3]);
        Assert.Equal(1 + 2 * 2 + 6 * 3, back[1, 2, 3]);
    }

    [Fact]
    public void SevenDimensionsAreRead()
    {
        int[] shape = [2, 1, 2, 1, 2, 1, 2];
        var values = Enumerable.Range(0, 16).Select(i => (double)i).ToArray();
        string path = Path.Combine(dir, "seven.nii");
        Nifti.Write(path, NiftiImage.Create(Geometry(), shape, NiftiDataType.Float64, values));
        var back = Nifti.Read(path);
        Assert.Equal(shape, back.Shape);
        Assert.Equal(values, back.ToDouble());
    }

    [Fact]
    public void VoxelIndexingIsXFastest()
    {
        var values = Enumerable.Range(0, 24).Select(i => (double)i).ToArray();
        var image = NiftiImage.Create(Geometry(), [4, 3, 2], NiftiDataType.Int32, values);
        Assert.Equal(3 + 4 * 2 + 12 * 1, image[3, 2, 1]);
        Assert.Equal(0, image[0, 0, 0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => image[4, 0, 0]);
    }

    [Fact]
    public void BigEndianFilesAreRead()
    {
        var values = new double[] { -300, -1, 0, 1, 2, 1000, 32767, -32768 };
        var image = NiftiImage.Create(Geometry(), [2, 2, 2], NiftiDataType.Int16, values);
        image = new NiftiImage(image.Header with { SclSlope = 2, SclInter = -5 }, image.RawData.ToArray());
        var little = image.Header.ToBytes();
        var big = ToBigEndianHeader(little);
        var data = image.RawData.ToArray();
        for (int i = 0; i < data.Length; i += 2)
            (data[i], data[i + 1]) = (data[i + 1], data[i]);
        string path = Path.Combine(dir, "big.nii");
        File.WriteAllBytes(path, [.. big, 0, 0, 0, 0, .. data]);

        var back = Nifti.Read(path);
        Assert.Equal([2, 2, 2], back.Shape);
        Assert.Equal(values.Select(v => v * 2 - 5), back.ToDouble());
        Assert.Equal(image.Affine, back.Affine);
        Assert.Equal(image.Header.QuaternC, back.Header.QuaternC);
        Assert.Equal(image.Header.PixDim, back.Header.PixDim);
    }

    [Fact]
    public void DataStartsAtVoxOffset()
    {
        var image = NiftiImage.Create(Geometry(), [2, 2, 1], NiftiDataType.UInt8, [1, 2, 3, 4]);
        var header = (image.Header with { VoxOffset = 400 }).ToBytes();
        var extension = new byte[400 - 348];
        extension[0] = 1; // the extension flag says extensions follow; their bytes are skipped
        string path = Path.Combine(dir, "offset.nii");
        File.WriteAllBytes(path, [.. header, .. extension, 1, 2, 3, 4]);
        Assert.Equal([1.0, 2, 3, 4], Nifti.Read(path).ToDouble());
    }

    [Theory]
    [InlineData(2f, -1024f, true)]
    [InlineData(0.5f, 0f, true)]
    [InlineData(1f, 10f, true)]
    [InlineData(0f, 5f, false)]
    [InlineData(1f, 0f, false)]
    [InlineData(float.NaN, 0f, false)]
    public void ScaleSlopeAndInterceptApplyOnlyWhenTheyChangeValues(float slope, float inter, bool scaled)
    {
        var image = NiftiImage.Create(Geometry(), [3, 1, 1], NiftiDataType.Int16, [-10, 0, 300]);
        image = new NiftiImage(image.Header with { SclSlope = slope, SclInter = inter }, image.RawData.ToArray());
        string path = Path.Combine(dir, "scaled.nii.gz");
        Nifti.Write(path, image);
        var back = Nifti.Read(path);
        Assert.Equal(scaled, back.HasScaling);
        double[] expected = scaled ? [-10 * slope + inter, inter, 300 * slope + inter] : [-10, 0, 300];
        Assert.Equal(expected, back.ToDouble());
        Assert.Equal(expected.Select(v => (float)v), back.ToFloat());
        Assert.Equal(expected[2], back.GetValue(2));
    }

    [Fact]
    public void AffineFollowsSformThenQformThenPixdim()
    {
        var header = Geometry() with { SRowX = [-0.75f, 0.1f, 0, 7], SRowY = [0, 0.8f, 0, 8], SRowZ = [0, 0, 2.5f, 9] };
        Assert.Equal(-0.75, NiftiAffine.Best(header)[0, 0]);
        Assert.Equal(0.1f, NiftiAffine.Best(header)[0, 1]);
        Assert.Equal(7, NiftiAffine.Best(header)[0, 3]);

        // Quaternion (b, c, d) = (0, 1, 0) is a 180° turn about y; qfac -1 flips z: diag(-0.75, 0.8, 2.5).
        var qform = NiftiAffine.Best(header with { SformCode = 0 });
        Assert.Equal(new double[,] { { -0.75, 0, 0, 120.5 }, { 0, 0.8f, 0, -60.25 }, { 0, 0, 2.5, -800 }, { 0, 0, 0, 1 } }, qform);

        var fallback = NiftiAffine.Best(header with { SformCode = 0, QformCode = 0 });
        Assert.Equal(new double[,] { { 0.75f, 0, 0, 0 }, { 0, 0.8f, 0, 0 }, { 0, 0, 2.5, 0 }, { 0, 0, 0, 1 } }, fallback);
    }

    [Fact]
    public void QformRotatesByTheQuaternion()
    {
        // 90° about z: a = cos 45°, d = sin 45°; voxel x runs along world y, voxel y along world -x.
        float s = MathF.Sqrt(0.5f);
        var header = new NiftiHeader { PixDim = [1, 2, 3, 4, 1, 1, 1, 1], QformCode = 1, QuaternD = s, QOffsetX = 1, QOffsetY = 2, QOffsetZ = 3 };
        var affine = NiftiAffine.Qform(header);
        double[,] expected = { { 0, -3, 0, 1 }, { 2, 0, 0, 2 }, { 0, 0, 4, 3 }, { 0, 0, 0, 1 } };
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                Assert.Equal(expected[i, j], affine[i, j], 6);
        Assert.Equal("ALS", NiftiAffine.AxisCodes(affine));
    }

    [Fact]
    public void AxisWithoutDirectionHasNoOrientationCode()
    {
        var header = new NiftiHeader { PixDim = [1, 2, 0, 3, 1, 1, 1, 1] };
        Assert.Equal("R?S", NiftiAffine.AxisCodes(NiftiAffine.Best(header)));
    }

    public static TheoryData<string, int[], float[], string, short, short> ExampleFiles() => new()
    {
        { "ct_512.nii.gz", [512, 512, 20], [0.9765625f, 0.9765625f, 2f], "LAS", 1, 1 },
        { "seg_512.nii.gz", [512, 512, 20], [0.9765625f, 0.9765625f, 2f], "LAS", 0, 2 },
        { "ct_3mm.nii.gz", [122, 101, 30], [3f, 3f, 3f], "RAS", 0, 2 },
        { "seg_3mm.nii.gz", [122, 101, 30], [3f, 3f, 3f], "RAS", 0, 2 },
        { "mr_3mm.nii.gz", [117, 91, 20], [3f, 3f, 3f], "LPS", 0, 2 },
        { "seg_mr_3mm.nii.gz", [117, 91, 20], [3f, 3f, 3f], "LPS", 0, 2 },
    };

    [Theory]
    [MemberData(nameof(ExampleFiles))]
    public void ReadsTheTotalSegmentatorExample(string file, int[] shape, float[] voxel, string orientation, short qformCode, short sformCode)
    {
        var image = Nifti.Read(SharedPaths.Data("totalseg-example", file));
        Assert.Equal(shape, image.Shape);
        Assert.Equal(voxel, image.VoxelSizes);
        Assert.Equal(orientation, image.Orientation);
        Assert.Equal(qformCode, image.Header.QformCode);
        Assert.Equal(sformCode, image.Header.SformCode);
        Assert.Equal(file.StartsWith("seg", StringComparison.Ordinal) ? NiftiDataType.UInt8 : NiftiDataType.Int16, image.DataType);
        Assert.Equal(image.VoxelCount, image.ToFloat().Length);
    }

    [Fact]
    public void QformAndSformOfTheLasScanAgree()
    {
        var header = Nifti.ReadHeader(SharedPaths.Data("totalseg-example", "ct_512.nii.gz"));
        var qform = NiftiAffine.Qform(header);
        var sform = NiftiAffine.Sform(header);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                Assert.Equal(sform[i, j], qform[i, j], 4);
    }

    [Fact]
    public void CtValuesAreHounsfieldUnits()
    {
        var ct = Nifti.Read(SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz")).ToDouble();
        Assert.InRange(ct.Min(), -1100, -900); // air
        Assert.InRange(ct.Max(), 300, 4000); // bone or contrast
    }

    [Fact]
    public void FromLabelsChoosesAnIntegerTypeThatFits()
    {
        var like = NiftiImage.Create(Geometry(), [2, 2, 1], NiftiDataType.Float32, [0, 0, 0, 0]);
        var small = NiftiImage.FromLabels(like, [0, 3, 8, 255]);
        Assert.Equal(NiftiDataType.UInt8, small.DataType);
        Assert.Equal(NiftiDataType.Int16, NiftiImage.FromLabels(like, [0, 3, 8, 256]).DataType);
        Assert.Equal(NiftiDataType.Int32, NiftiImage.FromLabels(like, [0, 3, 8, 70000]).DataType);
        string path = Path.Combine(dir, "labels.nii.gz");
        Nifti.Write(path, small);
        var back = Nifti.Read(path);
        Assert.Equal([0.0, 3, 8, 255], back.ToDouble());
        Assert.Equal(like.Affine, back.Affine);
        AssertSameGeometry(like.Header, back.Header);
    }

    [Fact]
    public void CreateRefusesValuesTheTypeCannotHold()
    {
        Assert.Throws<ArgumentException>(() => NiftiImage.Create(Geometry(), [2, 1, 1], NiftiDataType.UInt8, [1, 256]));
        Assert.Throws<ArgumentException>(() => NiftiImage.Create(Geometry(), [2, 1, 1], NiftiDataType.Int16, [1, 0.5]));
        Assert.Throws<ArgumentException>(() => NiftiImage.Create(Geometry(), [2, 2, 1], NiftiDataType.Int16, [1, 2]));
    }

    [Fact]
    public void ReadHeaderReadsOnlyTheHeaderOfPlainAndGzipFiles()
    {
        foreach (string extension in new[] { ".nii", ".nii.gz" })
        {
            string path = Path.Combine(dir, "header" + extension);
            Nifti.Write(path, NiftiImage.Create(Geometry(), [4, 3, 2], NiftiDataType.Float32, new double[24]));
            var header = Nifti.ReadHeader(path);
            Assert.Equal([4, 3, 2], header.Shape);
            AssertSameGeometry(Geometry(), header);
        }
        string cut = Path.Combine(dir, "cut.nii");
        File.WriteAllBytes(cut, File.ReadAllBytes(Path.Combine(dir, "header.nii"))[..100]);
        Assert.Contains(cut, Assert.Throws<InvalidDataException>(() => Nifti.ReadHeader(cut)).Message);
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        string path = Path.Combine(dir, "absent.nii.gz");
        var error = Assert.Throws<FileNotFoundException>(() => Nifti.Read(path));
        Assert.Contains(path, error.Message);
    }

    [Theory]
    [InlineData(100)]
    [InlineData(1000)]
    [InlineData(8)]
    public void TruncatedGzipIsAClearError(int bytesCut)
    {
        string path = Path.Combine(dir, "cut.nii.gz");
        var whole = File.ReadAllBytes(SharedPaths.Data("totalseg-example", "seg_3mm.nii.gz"));
        File.WriteAllBytes(path, whole[..^bytesCut]);
        var error = Assert.Throws<InvalidDataException>(() => Nifti.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("gzip", error.Message);
    }

    [Fact]
    public void BadSizeofHdrIsAClearError()
    {
        string path = Path.Combine(dir, "bad.nii");
        var bytes = WriteSmall(path);
        BinaryPrimitives.WriteInt32LittleEndian(bytes, 540); // a NIfTI-2 size
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<InvalidDataException>(() => Nifti.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("sizeof_hdr", error.Message);
    }

    [Fact]
    public void DataShorterThanTheHeaderSaysIsAClearError()
    {
        string path = Path.Combine(dir, "short.nii");
        var bytes = WriteSmall(path);
        File.WriteAllBytes(path, bytes[..^3]);
        var error = Assert.Throws<InvalidDataException>(() => Nifti.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("shorter", error.Message);

        File.WriteAllBytes(path, bytes[..200]);
        error = Assert.Throws<InvalidDataException>(() => Nifti.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("truncated NIfTI header", error.Message);
    }

    [Fact]
    public void UnsupportedDataTypeAndMagicAreClearErrors()
    {
        string path = Path.Combine(dir, "odd.nii");
        var bytes = WriteSmall(path);
        var rgb = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt16LittleEndian(rgb.AsSpan(70), 128);
        File.WriteAllBytes(path, rgb);
        Assert.Contains("datatype 128", Assert.Throws<InvalidDataException>(() => Nifti.Read(path)).Message);

        var pair = (byte[])bytes.Clone();
        pair[345] = (byte)'i';
        File.WriteAllBytes(path, pair);
        Assert.Contains("two-file", Assert.Throws<InvalidDataException>(() => Nifti.Read(path)).Message);
    }

    private byte[] WriteSmall(string path)
    {
        Nifti.Write(path, NiftiImage.Create(Geometry(), [2, 2, 2], NiftiDataType.Int16, [1, 2, 3, 4, 5, 6, 7, 8]));
        return File.ReadAllBytes(path);
    }

    private static void AssertSameGeometry(NiftiHeader expected, NiftiHeader actual)
    {
        Assert.Equal(expected.PixDim, actual.PixDim);
        Assert.Equal(expected.QformCode, actual.QformCode);
        Assert.Equal(expected.SformCode, actual.SformCode);
        Assert.Equal(
            [expected.QuaternB, expected.QuaternC, expected.QuaternD, expected.QOffsetX, expected.QOffsetY, expected.QOffsetZ],
            [actual.QuaternB, actual.QuaternC, actual.QuaternD, actual.QOffsetX, actual.QOffsetY, actual.QOffsetZ]);
        Assert.Equal(expected.SRowX, actual.SRowX);
        Assert.Equal(expected.SRowY, actual.SRowY);
        Assert.Equal(expected.SRowZ, actual.SRowZ);
        Assert.Equal(expected.XyztUnits, actual.XyztUnits);
        Assert.Equal(expected.Descrip, actual.Descrip);
    }

    private static bool IsGzip(string path)
    {
        using var file = File.OpenRead(path);
        return file.ReadByte() == 0x1f && file.ReadByte() == 0x8b;
    }

    /// <summary>Byte-swaps every numeric field of a little-endian header (offset, item size, count).</summary>
    private static byte[] ToBigEndianHeader(byte[] little)
    {
        (int Offset, int Size, int Count)[] fields =
        [
            (0, 4, 1), (32, 4, 1), (36, 2, 1), (40, 2, 8), (56, 4, 3), (68, 2, 3), (74, 2, 1), (76, 4, 8),
            (108, 4, 3), (120, 2, 1), (124, 4, 4), (140, 4, 2), (252, 2, 2), (256, 4, 6), (280, 4, 12),
        ];
        var big = (byte[])little.Clone();
        foreach (var (offset, size, count) in fields)
            for (int k = 0; k < count; k++)
                Array.Reverse(big, offset + k * size, size);
        return big;
    }
}
