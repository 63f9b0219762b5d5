using SAMed.Data;
using SAMed.IO;
using SAMed.Tests.Reference;

namespace SAMed.Tests.Data;

public sealed class DatasetValidatorTests : IDisposable
{
    private const int NumClasses = 3;
    private readonly SynapseLayout _layout;

    public DatasetValidatorTests()
    {
        _layout = new SynapseLayout(Directory.CreateTempSubdirectory("validator-").FullName);
        Directory.CreateDirectory(_layout.TrainDir);
        Directory.CreateDirectory(_layout.TestDir);
        string[] slices = ["case1_slice000", "case1_slice001", "case1_slice002"];
        foreach (string name in slices)
            WriteSlice(name, Image(4, 5), Label(4, 5));
        SynapseLayout.WriteList(_layout.TrainListPath, slices);
        SynapseH5.Write(_layout.TestVolumePath("case1"), new VolumeArrays(Image(3, 4, 5), Label(3, 4, 5)));
        SynapseH5.Write(_layout.TestVolumePath("case2"), new VolumeArrays(Image(2, 4, 5), Label(2, 4, 5)), compress: true);
        SynapseLayout.WriteList(_layout.TestListPath, ["case1", "case2"]);
    }

    public void Dispose() => Directory.Delete(_layout.Root, recursive: true);

    [Fact]
    public void ReferencePreparedCaseIsValid()
    {
        var report = DatasetValidator.Validate(new SynapseLayout(SharedPaths.Reference("prepare")), numClasses: 8);
        Assert.True(report.IsValid, string.Join("\n", report.Problems));
        Assert.Empty(report.Warnings);
        Assert.Equal(30, report.TrainSlicesChecked);
        Assert.Equal(1, report.TestVolumesChecked);
        report.ThrowIfInvalid();
    }

    [Fact]
    public void ReferenceLabelsExceedFewerClasses()
    {
        var report = DatasetValidator.Validate(new SynapseLayout(SharedPaths.Reference("prepare")), numClasses: 7, ValidationParts.Test);
        var problem = Assert.Single(report.Problems);
        Assert.EndsWith("case0001.npy.h5", problem.File);
        Assert.Contains("outside 0..7", problem.Problem);
    }

    [Fact]
    public void WellFormedSetIsValid()
    {
        var report = DatasetValidator.Validate(_layout, NumClasses);
        Assert.True(report.IsValid, string.Join("\n", report.Problems));
        Assert.Empty(report.Warnings);
        Assert.Equal((3, 2), (report.TrainSlicesChecked, report.TestVolumesChecked));
    }

    [Fact]
    public void ResizedTrainingSetBesideTheNativeOneIsCheckedToo()
    {
        var resized = _layout with { TrainDir = _layout.TrainDir + "_224" };
        Directory.CreateDirectory(resized.TrainDir);
        foreach (string name in SynapseLayout.ReadList(_layout.TrainListPath))
            Npz.Write(resized.TrainSlicePath(name), [new("image", Image(6, 6)), new("label", Label(6, 6))]);
        Assert.Equal([_layout.TrainDir, resized.TrainDir], DatasetValidator.TrainingFolders(_layout));
        Assert.True(DatasetValidator.Validate(_layout, NumClasses).IsValid);

        Truncate(resized.TrainSlicePath("case1_slice002"));
        var report = DatasetValidator.Validate(_layout, NumClasses);
        Assert.Equal(6, report.TrainSlicesChecked);
        var problem = Assert.Single(report.Problems);
        Assert.Equal(resized.TrainSlicePath("case1_slice002"), problem.File);
    }

    [Fact]
    public void OnlyResizedTrainingSetIsChecked()
    {
        var resized = _layout with { TrainDir = _layout.TrainDir + "_224" };
        Directory.Move(_layout.TrainDir, resized.TrainDir);
        Assert.Equal([resized.TrainDir], DatasetValidator.TrainingFolders(_layout));
        Assert.True(DatasetValidator.Validate(_layout, NumClasses).IsValid);
        Assert.Equal(3, DatasetValidator.Validate(_layout, NumClasses).TrainSlicesChecked);

        Directory.Delete(resized.TrainDir, recursive: true);
        Assert.Equal([_layout.TrainDir], DatasetValidator.TrainingFolders(_layout));
        Assert.Equal(3, DatasetValidator.Validate(_layout, NumClasses).Problems.Count(p => p.Problem.Contains("not found")));
    }

    [Fact]
    public void MissingFilesAreReported()
    {
        File.Delete(_layout.TrainSlicePath("case1_slice001"));
        File.Delete(_layout.TestVolumePath("case2"));
        var report = DatasetValidator.Validate(_layout, NumClasses);
        Assert.Equal(2, report.Problems.Count);
        AssertProblem(report, _layout.TrainSlicePath("case1_slice001"), "not found");
        AssertProblem(report, _layout.TestVolumePath("case2"), "not found");
    }

    [Theory]
    [InlineData("image")]
    [InlineData("label")]
    public void NpzWithoutMemberIsReported(string missing)
    {
        string path = _layout.TrainSlicePath("case1_slice000");
        string kept = missing == "image" ? "label" : "image";
        Npz.Write(path, [new(kept, Image(4, 5))]);
        AssertProblem(DatasetValidator.Validate(_layout, NumClasses), path, $"no '{missing}'");
    }

    [Fact]
    public void ShapeMismatchIsReported()
    {
        string path = _layout.TrainSlicePath("case1_slice002");
        WriteSlice("case1_slice002", Image(4, 5), Label(5, 4));
        AssertProblem(DatasetValidator.Validate(_layout, NumClasses), path, "differs from label shape");
    }

    [Fact]
    public void WrongRankIsReported()
    {
        string path = _layout.TrainSlicePath("case1_slice002");
        WriteSlice("case1_slice002", Image(1, 4, 5), Label(1, 4, 5));
        AssertProblem(DatasetValidator.Validate(_layout, NumClasses), path, "must be 2D");
    }

    [Fact]
    public void LabelOutOfRangeIsReportedForSlicesAndVolumes()
    {
        var label = Label(4, 5).ToFloat();
        label[7] = NumClasses + 1;
        label[8] = -1;
        WriteSlice("case1_slice000", Image(4, 5), NpyArray.FromFloat32(label, 4, 5));
        var volumeLabel = Label(3, 4, 5).ToFloat();
        volumeLabel[^1] = 12;
        SynapseH5.Write(_layout.TestVolumePath("case1"), new VolumeArrays(Image(3, 4, 5), NpyArray.FromFloat32(volumeLabel, 3, 4, 5)));
        var report = DatasetValidator.Validate(_layout, NumClasses);
        AssertProblem(report, _layout.TrainSlicePath("case1_slice000"), "2 values outside 0..3");
        AssertProblem(report, _layout.TestVolumePath("case1"), "1 values outside 0..3");
    }

    [Fact]
    public void NonIntegerLabelIsReported()
    {
        var label = Label(4, 5).ToFloat();
        label[3] = 1.5f;
        WriteSlice("case1_slice001", Image(4, 5), NpyArray.FromFloat32(label, 4, 5));
        AssertProblem(DatasetValidator.Validate(_layout, NumClasses), _layout.TrainSlicePath("case1_slice001"), "not finite integers");
    }

    [Fact]
    public void NaNAndInfinityInImagesAreReported()
    {
        var image = Image(4, 5).ToFloat();
        image[2] = float.NaN;
        image[9] = float.PositiveInfinity;
        WriteSlice("case1_slice001", NpyArray.FromFloat32(image, 4, 5), Label(4, 5));
        var volumeImage = Image(2, 4, 5).ToFloat();
        volumeImage[0] = float.NegativeInfinity;
        SynapseH5.Write(_layout.TestVolumePath("case2"), new VolumeArrays(NpyArray.FromFloat32(volumeImage, 2, 4, 5), Label(2, 4, 5)));
        var report = DatasetValidator.Validate(_layout, NumClasses);
        AssertProblem(report, _layout.TrainSlicePath("case1_slice001"), "1 NaN and 1 infinite");
        AssertProblem(report, _layout.TestVolumePath("case2"), "0 NaN and 1 infinite");
    }

    [Fact]
    public void EmptyAndMissingListFilesAreReported()
    {
        File.WriteAllText(_layout.TrainListPath, "\n\n");
        File.Delete(_layout.TestListPath);
        var report = DatasetValidator.Validate(_layout, NumClasses);
        AssertProblem(report, _layout.TrainListPath, "empty");
        AssertProblem(report, _layout.TestListPath, "not found");
        Assert.Equal(2, report.Problems.Count);
    }

    [Fact]
    public void TruncatedFilesAreReported()
    {
        Truncate(_layout.TrainSlicePath("case1_slice000"));
        Truncate(_layout.TestVolumePath("case1"));
        var report = DatasetValidator.Validate(_layout, NumClasses);
        Assert.Equal(2, report.Problems.Count);
        Assert.Contains(report.Problems, p => p.File == _layout.TrainSlicePath("case1_slice000"));
        Assert.Contains(report.Problems, p => p.File == _layout.TestVolumePath("case1"));
    }

    [Fact]
    public void EveryProblemIsReportedAndThrowIfInvalidListsThemAll()
    {
        File.Delete(_layout.TrainSlicePath("case1_slice000"));
        WriteSlice("case1_slice001", Image(4, 5), Label(5, 4));
        Truncate(_layout.TestVolumePath("case2"));
        var report = DatasetValidator.Validate(_layout, NumClasses);
        Assert.False(report.IsValid);
        Assert.Equal(3, report.Problems.Count);
        var error = Assert.Throws<InvalidDataException>(report.ThrowIfInvalid);
        foreach (var problem in report.Problems)
            Assert.Contains(problem.ToString(), error.Message);
    }

    [Fact]
    public void UnscaledImagesAndEmptyTestVolumesAreWarningsOnly()
    {
        var hounsfield = Image(4, 5).ToFloat().Select(v => v * 1400 - 1000).ToArray();
        WriteSlice("case1_slice000", NpyArray.FromFloat32(hounsfield, 4, 5), Label(4, 5));
        SynapseH5.Write(_layout.TestVolumePath("case2"), new VolumeArrays(Image(2, 4, 5), NpyArray.FromFloat32(new float[40], 2, 4, 5)));
        var report = DatasetValidator.Validate(_layout, NumClasses);
        Assert.True(report.IsValid, string.Join("\n", report.Problems));
        report.ThrowIfInvalid();
        Assert.Equal(2, report.Warnings.Count);
        Assert.All(report.Warnings, w => Assert.True(w.IsWarning));
        Assert.Contains(report.Warnings, w => w.File == _layout.TrainSlicePath("case1_slice000") && w.Problem.Contains("outside [0, 1]"));
        Assert.Contains(report.Warnings, w => w.File == _layout.TestVolumePath("case2") && w.Problem.Contains("no foreground"));
        Assert.Contains("2 warning(s)", report.Summary);
    }

    [Fact]
    public void PartsLimitWhatIsChecked()
    {
        File.Delete(_layout.TestVolumePath("case2"));
        var trainOnly = DatasetValidator.Validate(_layout, NumClasses, ValidationParts.Train);
        Assert.True(trainOnly.IsValid);
        Assert.Equal(0, trainOnly.TestVolumesChecked);
        Assert.False(DatasetValidator.Validate(_layout, NumClasses, ValidationParts.Test).IsValid);
    }

    private static void AssertProblem(ValidationReport report, string file, string fragment) =>
        Assert.True(report.Problems.Any(p => p.File == file && p.Problem.Contains(fragment, StringComparison.Ordinal)),
            $"expected a problem '{fragment}' for {file}; got:\n{string.Join("\n", report.Problems)}");

    private static void Truncate(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
    }

    private void WriteSlice(string name, NpyArray image, NpyArray label) =>
        Npz.Write(_layout.TrainSlicePath(name), [new("image", image), new("label", label)]);

    private static NpyArray Image(params long[] shape)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        return NpyArray.FromFloat32(Enumerable.Range(0, (int)n).Select(i => i / (float)n).ToArray(), shape);
    }

    private static NpyArray Label(params long[] shape)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        return NpyArray.FromFloat32(Enumerable.Range(0, (int)n).Select(i => (float)(i % (NumClasses + 1))).ToArray(), shape);
    }
}
