using System.Text.Json;
using SAMed.Data;
using SAMed.IO;
using SAMed.Tests.Reference;

namespace SAMed.Tests.Data;

/// <summary>
/// prepare on the TotalSegmentator example must reproduce reference/prepare (made by SAMed's preprocessing steps with
/// nibabel, numpy.savez and h5py) array for array; the reference puts its one case in both train_npz and test_vol_h5.
/// </summary>
public sealed class PrepareReferenceTests : IDisposable
{
    private readonly string output = Directory.CreateTempSubdirectory("prepare-reference-").FullName;
    private static string ReferenceDir => SharedPaths.Reference("prepare");

    public void Dispose() => Directory.Delete(output, recursive: true);

    private PrepareSummary RunPrepare()
    {
        var cases = PrepareCases.FromFiles(
            SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz"),
            SharedPaths.Data("totalseg-example", "seg_3mm.nii.gz"),
            "case0001"); // the reference's case name (a single pair is otherwise named after its image file, ct_3mm)
        var options = new PrepareOptions
        {
            OutputDir = output,
            LabelMap = LabelMap.TotalSegmentator,
            TestCases = ["case0001"],
            TestCasesAlsoTrain = true,
        };
        return Prepare.Run(cases, options);
    }

    [Fact]
    public void EveryTrainingSliceMatchesTheReference()
    {
        RunPrepare();
        var expectedFiles = Directory.GetFiles(Path.Combine(ReferenceDir, "train_npz"), "*.npz").Select(Path.GetFileName).Order().ToList();
        var actualFiles = Directory.GetFiles(Path.Combine(output, "train_npz"), "*.npz").Select(Path.GetFileName).Order().ToList();
        Assert.NotEmpty(expectedFiles);
        Assert.Equal(expectedFiles, actualFiles);
        foreach (string file in expectedFiles!)
        {
            var expected = Npz.Read(Path.Combine(ReferenceDir, "train_npz", file!));
            var actual = Npz.Read(Path.Combine(output, "train_npz", file!));
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach (var (key, array) in expected)
                AssertSameArray(array, actual[key], $"{file}[{key}]");
        }
    }

    [Fact]
    public void TestVolumeAndListFilesMatchTheReference()
    {
        var summary = RunPrepare();
        foreach (string volumeFile in Directory.GetFiles(Path.Combine(ReferenceDir, "test_vol_h5")))
        {
            string name = Path.GetFileName(volumeFile);
            var expected = SynapseH5.Read(volumeFile);
            var actual = SynapseH5.Read(Path.Combine(output, "test_vol_h5", name));
            AssertSameArray(expected.Image, actual.Image, name + "[image]");
            AssertSameArray(expected.Label, actual.Label, name + "[label]");
        }
        Assert.Equal(Directory.GetFiles(Path.Combine(ReferenceDir, "test_vol_h5")).Select(Path.GetFileName),
            Directory.GetFiles(Path.Combine(output, "test_vol_h5")).Select(Path.GetFileName));
        foreach (string list in new[] { "train.txt", "test_vol.txt" })
            Assert.Equal(File.ReadAllText(Path.Combine(ReferenceDir, list)), File.ReadAllText(Path.Combine(output, list)));

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(ReferenceDir, "prepare.json")));
        var shape = json.RootElement.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var only = Assert.Single(summary.Cases);
        Assert.Equal(shape, new[] { only.Depth, only.Height, only.Width });
        Assert.True(only.Train && only.Test);
        Assert.Equal(shape[0], summary.TrainSlices);
        var counts = json.RootElement.GetProperty("label_voxels").EnumerateObject()
            .ToDictionary(p => int.Parse(p.Name, System.Globalization.CultureInfo.InvariantCulture), p => p.Value.GetInt64());
        Assert.Equal(counts.OrderBy(p => p.Key), summary.LabelVoxels.OrderBy(p => p.Key));
    }

    private static void AssertSameArray(NpyArray expected, NpyArray actual, string what)
    {
        Assert.True(expected.Type == actual.Type, $"{what}: type {actual.Type}, expected {expected.Type}");
        Assert.True(expected.Shape.SequenceEqual(actual.Shape),
            $"{what}: shape [{string.Join(", ", actual.Shape)}], expected [{string.Join(", ", expected.Shape)}]");
        var e = expected.ToFloat();
        var a = actual.ToFloat();
        int mismatch = Enumerable.Range(0, e.Length).FirstOrDefault(i => BitConverter.SingleToInt32Bits(e[i]) != BitConverter.SingleToInt32Bits(a[i]), -1);
        Assert.True(mismatch < 0, mismatch < 0 ? "" : $"{what}: element {mismatch} is {a[mismatch]:R}, expected {e[mismatch]:R}");
    }
}

/// <summary>Facts the example's README states about the 512 x 512 scan, checked through prepare's [slice, y, x] output.</summary>
public sealed class PrepareExampleFactsTests(PrepareExampleFactsTests.LasScan scan) : IClassFixture<PrepareExampleFactsTests.LasScan>
{
    /// <summary>ct_512/seg_512 prepared once with the TotalSegmentator map.</summary>
    public sealed class LasScan
    {
        public static string Ct => SharedPaths.Data("totalseg-example", "ct_512.nii.gz");
        public static string Seg => SharedPaths.Data("totalseg-example", "seg_512.nii.gz");

        public PreparedVolume Volume { get; } = Prepare.Load(
            new PrepareCase("case0001", Ct, Seg), new PrepareOptions { OutputDir = "unused", LabelMap = LabelMap.TotalSegmentator });
    }

    [Fact]
    public void LasScanSlicesHoldTheOrgansTheReadmeNames()
    {
        var volume = scan.Volume;
        Assert.Equal((20, 512, 512), (volume.Depth, volume.Height, volume.Width));
        Assert.Equal([0, 1, 5, 6, 7, 8], volume.LabelVoxels.Keys);

        var classesPerSlice = Enumerable.Range(0, volume.Depth).Select(z => volume.LabelSlice(z).Select(v => (int)v).ToHashSet()).ToList();
        Assert.Equal(4, classesPerSlice.Count(s => s.Contains(8)));
        Assert.Superset(new HashSet<int> { 1, 5, 6, 7 }, classesPerSlice[10]);

        // Organs lie on soft tissue (scaled HU between 0 and 200 on average), not on air or bone.
        var image = volume.ImageSlice(10);
        var labels = volume.LabelSlice(10);
        foreach (int organ in new[] { 1, 5, 7 })
        {
            double mean = Enumerable.Range(0, labels.Length).Where(i => labels[i] == organ).Average(i => image[i]) * 400 - 125;
            Assert.InRange(mean, 0, 250);
        }
        Assert.Equal(0f, image[0]); // the corner is air, clipped to -125 HU
    }

    [Fact]
    public void PredictionsInSliceOrderGoBackToNiftiOnTheSourceGrid()
    {
        var image = Prepare.LoadImage(LasScan.Ct);
        var volume = scan.Volume;
        Assert.True(volume.Image.AsSpan().SequenceEqual(image.Image), "LoadImage differs from Load");

        // Stand-in for a model's [D, H, W] prediction: the mapped labels.
        var prediction = volume.Label.Select(v => (int)v).ToArray();
        string path = Path.Combine(Path.GetTempPath(), $"prediction-{Guid.NewGuid():N}.nii.gz");
        try
        {
            Nifti.Write(path, NiftiImage.FromLabels(image.Source, prediction));
            var back = Nifti.Read(path);
            var source = Nifti.Read(LasScan.Seg);
            Assert.Equal(NiftiDataType.UInt8, back.DataType);
            Assert.Equal(source.Shape, back.Shape);
            Assert.Equal(source.Affine, back.Affine);
            Assert.Equal("LAS", back.Orientation);
            foreach (var (x, y, z) in new[] { (0, 0, 0), (300, 200, 10), (511, 17, 19), (128, 400, 3) })
                Assert.Equal(LabelMap.TotalSegmentator.Map((int)source[x, y, z]), back[x, y, z]);
            Assert.True(back.RawData.SequenceEqual(prediction.Select(v => (byte)v).ToArray()), "written voxels differ from the prediction");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
