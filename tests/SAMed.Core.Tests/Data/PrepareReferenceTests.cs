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
            SharedPaths.Data("totalseg-example", "seg_3mm.nii.gz"));
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
