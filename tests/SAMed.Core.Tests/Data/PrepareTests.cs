using SAMed.Data;
using SAMed.IO;

namespace SAMed.Tests.Data;

public sealed class PrepareTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("prepare-tests-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static readonly NiftiHeader Geometry = new()
    {
        PixDim = [1, 0.8f, 0.8f, 2.5f, 1, 1, 1, 1],
        SformCode = 1,
        SRowX = [0.8f, 0, 0, -10],
        SRowY = [0, 0.8f, 0, 20],
        SRowZ = [0, 0, 2.5f, 30],
        XyztUnits = 10,
    };

    /// <summary>A 4 x 3 x 2 image whose voxel (x, y, z) holds HU 200·x + 10·y + z - 300, and labels 0..13 cycling.</summary>
    private (string Image, string Label) WritePair(string name, int[]? shape = null, Func<int, double>? image = null, Func<int, double>? label = null)
    {
        shape ??= [4, 3, 2];
        int count = shape.Aggregate(1, (a, b) => a * b);
        image ??= i => 200 * (i % 4) + 10 * (i / 4 % 3) + i / 12 - 300;
        label ??= i => i % 14;
        string imagePath = Path.Combine(dir, name + "_img.nii.gz"), labelPath = Path.Combine(dir, name + "_lab.nii.gz");
        Nifti.Write(imagePath, NiftiImage.Create(Geometry, shape, NiftiDataType.Float32, Enumerable.Range(0, count).Select(image).ToArray()));
        Nifti.Write(labelPath, NiftiImage.Create(Geometry, shape, NiftiDataType.Int16, Enumerable.Range(0, count).Select(label).ToArray()));
        return (imagePath, labelPath);
    }

    private PrepareOptions Options(string output = "out") => new() { OutputDir = Path.Combine(dir, output) };

    [Fact]
    public void VolumeIsClippedScaledMappedAndTransposedToSliceRowColumn()
    {
        var (image, label) = WritePair("a");
        var volume = Prepare.Load(new PrepareCase("case0001", image, label), Options());
        Assert.Equal((2, 3, 4), (volume.Depth, volume.Height, volume.Width));
        for (int z = 0; z < 2; z++)
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 4; x++)
                {
                    int disk = x + 4 * y + 12 * z;
                    float hu = 200 * x + 10 * y + z - 300;
                    float expected = (Math.Clamp(hu, -125f, 275f) + 125f) / 400f;
                    int index = (z * 3 + y) * 4 + x; // [slice, y, x] in C order
                    Assert.Equal(expected, volume.Image[index]);
                    Assert.Equal(LabelMap.Synapse13.Map(disk % 14), volume.Label[index]);
                }
        Assert.Equal(0f, volume.Image.Min());
        Assert.Equal(1f, volume.Image.Max());
        Assert.Equal(24, volume.LabelVoxels.Values.Sum());
        Assert.Equal(new float[] { (-100f + 125f) / 400f, (100f + 125f) / 400f }, volume.ImageSlice(0)[1..3]);
    }

    [Fact]
    public void RunWritesTrainSlicesTestVolumesAndLists()
    {
        var cases = Enumerable.Range(1, 3).Select(i => WritePair($"p{i}")).ToList();
        string list = Path.Combine(dir, "pairs.txt");
        File.WriteAllLines(list, cases.Select(c => $"{Path.GetFileName(c.Image)}\t{Path.GetFileName(c.Label)}"));
        var progress = new List<PrepareProgress>();
        var summary = Prepare.Run(PrepareCases.FromListFile(list), Options() with { TestCases = ["p2_img"] }, progress.Add);

        string output = Path.Combine(dir, "out");
        // Case names are the image file names.
        Assert.Equal(["p1_img", "p3_img"], summary.Cases.Where(c => c.Train).Select(c => c.Name));
        Assert.Equal(["p2_img"], summary.Cases.Where(c => c.Test).Select(c => c.Name));
        Assert.Equal(4, summary.TrainSlices);
        Assert.Equal("p1_img_slice000\np1_img_slice001\np3_img_slice000\np3_img_slice001\n", File.ReadAllText(Path.Combine(output, "train.txt")));
        Assert.Equal("p2_img\n", File.ReadAllText(Path.Combine(output, "test_vol.txt")));
        Assert.Equal([1, 2, 3], progress.Select(p => p.Index));

        var slice = Npz.Read(Path.Combine(output, "train_npz", "p3_img_slice001.npz"), "image", "label");
        Assert.Equal([3L, 4L], slice[0].Shape);
        Assert.Equal(NpyType.Float32, slice[0].Type);
        var volume = SynapseH5.Read(Path.Combine(output, "test_vol_h5", "p2_img.npy.h5"));
        Assert.Equal([2L, 3L, 4L], volume.Image.Shape);
        var expected = Prepare.Load(new PrepareCase("p2_img", cases[1].Image, cases[1].Label), Options());
        Assert.Equal(expected.Image, volume.Image.ToFloat());
        Assert.Equal(expected.Label, volume.Label.ToFloat());
        Assert.Equal(expected.ImageSlice(1), Npz.Read(Path.Combine(output, "train_npz", "p1_img_slice001.npz"), "image")[0].ToFloat());
        Assert.False(File.Exists(Path.Combine(output, "test_vol_h5", "p1_img.npy.h5")));
        Assert.Equal(3 * 24, summary.LabelVoxels.Values.Sum());
        // Synapse ids 5, 9, 10, 12 and 13 are listed as background; none is unlisted.
        Assert.Empty(summary.UnlistedSourceVoxels);
    }

    [Fact]
    public void UnlistedLabelsAreCountedOrRefused()
    {
        var (image, label) = WritePair("u", label: i => i % 3 == 0 ? 52 : i % 3 == 1 ? 99 : 0);
        var volume = Prepare.Load(new PrepareCase("case0001", image, label), Options() with { LabelMap = LabelMap.TotalSegmentator });
        Assert.Equal(8, volume.UnlistedSourceVoxels[99]);
        Assert.Equal(8, volume.LabelVoxels[7]);
        Assert.Equal(16, volume.LabelVoxels[0]);

        var strict = Options() with { LabelMap = LabelMap.TotalSegmentator.WithUnlisted(UnlistedLabels.Error) };
        var error = Assert.Throws<InvalidDataException>(() => Prepare.Load(new PrepareCase("case0001", image, label), strict));
        Assert.Contains(label, error.Message);
        Assert.Contains("label 99", error.Message);
    }

    [Fact]
    public void LabelIdsTheMapDoesNotKnowStopWithTheLikelyMap()
    {
        // TotalSegmentator ids (liver 5, stomach 6, aorta 52, ...) read with the default synapse13 map.
        var (image, label) = WritePair("ts", label: i => new[] { 0, 5, 6, 52, 21 }[i % 5]);
        var error = Assert.Throws<InvalidDataException>(() => Prepare.Load(new PrepareCase("case0001", image, label), Options()));
        Assert.Contains(label, error.Message);
        Assert.Contains("21, 52", error.Message);
        Assert.Contains("--label-map totalseg", error.Message);

        var asked = Options() with { UnknownLabelTolerance = null };
        Assert.Equal(9, Prepare.Load(new PrepareCase("case0001", image, label), asked).UnlistedSourceVoxels.Values.Sum());
        Assert.Equal(5, LabelMap.Synapse13.Map(6));
        Assert.Equal(7, Prepare.Load(new PrepareCase("case0001", image, label), Options() with { LabelMap = LabelMap.TotalSegmentator })
            .LabelVoxels.Keys.Max());
    }

    [Fact]
    public void AFewStrayUnknownVoxelsAreSetToBackgroundAndReported()
    {
        var (image, label) = WritePair("stray", shape: [50, 50, 5], image: _ => 0, label: i => i == 777 ? 200 : i % 2);
        var volume = Prepare.Load(new PrepareCase("case0001", image, label), Options());
        Assert.Equal(1, volume.UnlistedSourceVoxels[200]);
        Assert.Null(LabelMap.Likely([200]));
        Assert.Equal("totalseg", LabelMap.Likely([3, 40]));
        Assert.Equal("synapse13", LabelMap.Likely([11]));
    }

    [Fact]
    public void NaNInTheImageIsAClearError()
    {
        var (image, label) = WritePair("n", image: i => i == 13 ? double.NaN : 0);
        var error = Assert.Throws<InvalidDataException>(() => Prepare.Load(new PrepareCase("case0001", image, label), Options()));
        Assert.Contains(image, error.Message);
        Assert.Contains("NaN", error.Message);
        Assert.Contains("(x=1, y=0, z=1)", error.Message);
    }

    [Fact]
    public void NonIntegerOrNegativeLabelsAreClearErrors()
    {
        string image = WritePair("f").Image;
        string label = Path.Combine(dir, "float_labels.nii.gz");
        Nifti.Write(label, NiftiImage.Create(Geometry, [4, 3, 2], NiftiDataType.Float32, Enumerable.Range(0, 24).Select(i => i == 5 ? 1.5 : 1).ToArray()));
        var error = Assert.Throws<InvalidDataException>(() => Prepare.Load(new PrepareCase("case0001", image, label), Options()));
        Assert.Contains(label, error.Message);
        Assert.Contains("1.5", error.Message);

        Nifti.Write(label, NiftiImage.Create(Geometry, [4, 3, 2], NiftiDataType.Int8, Enumerable.Range(0, 24).Select(i => i == 5 ? -1.0 : 1).ToArray()));
        error = Assert.Throws<InvalidDataException>(() => Prepare.Load(new PrepareCase("case0001", image, label), Options()));
        Assert.Contains("-1", error.Message);
    }

    [Fact]
    public void ShapeMismatchNamesBothFiles()
    {
        string image = WritePair("s").Image;
        string label = WritePair("t", shape: [4, 3, 3]).Label;
        var error = Assert.Throws<InvalidDataException>(() => Prepare.Load(new PrepareCase("case0001", image, label), Options()));
        Assert.Contains(image, error.Message);
        Assert.Contains(label, error.Message);
        Assert.Contains("4 x 3 x 3", error.Message);
    }

    [Fact]
    public void FourDimensionalWithOneTimePointIsAcceptedButNotMore()
    {
        var (image, label) = WritePair("four", shape: [4, 3, 2, 1]);
        Assert.Equal(2, Prepare.Load(new PrepareCase("case0001", image, label), Options()).Depth);
        (image, label) = WritePair("five", shape: [4, 3, 1, 2]);
        var error = Assert.Throws<InvalidDataException>(() => Prepare.Load(new PrepareCase("case0001", image, label), Options()));
        Assert.Contains(image, error.Message);
    }

    [Fact]
    public void HeadersOfEveryCaseAreCheckedBeforeAnythingIsWritten()
    {
        var good = WritePair("ok");
        string image = WritePair("bad").Image;
        string label = WritePair("bad3", shape: [4, 3, 3]).Label;
        var cases = new[] { new PrepareCase("case0001", good.Image, good.Label), new PrepareCase("case0002", image, label) };
        var error = Assert.Throws<InvalidDataException>(() => Prepare.Run(cases, Options("early")));
        Assert.Contains(label, error.Message);
        Assert.False(Directory.Exists(Path.Combine(dir, "early", "train_npz")));
    }

    [Fact]
    public void MissingFilesAreNamed()
    {
        string label = WritePair("m").Label;
        string image = Path.Combine(dir, "absent.nii.gz");
        var error = Assert.Throws<FileNotFoundException>(() => Prepare.Run([new PrepareCase("case0001", image, label)], Options()));
        Assert.Contains(image, error.Message);
    }

    [Fact]
    public void DifferentImageAndLabelGeometryIsAWarning()
    {
        var (image, _) = WritePair("g");
        string label = Path.Combine(dir, "shifted.nii.gz");
        Nifti.Write(label, NiftiImage.Create(Geometry with { SRowX = [0.8f, 0, 0, 50] }, [4, 3, 2], NiftiDataType.UInt8, new double[24]));
        var volume = Prepare.Load(new PrepareCase("case0007", image, label), Options());
        Assert.Contains(volume.Warnings, w => w.Contains("case0007", StringComparison.Ordinal) && w.Contains("affine", StringComparison.Ordinal));
    }
}
