using PureHDF;
using SAMed.Data;
using SAMed.Evaluation;
using SAMed.Inference;
using SAMed.IO;
using SAMed.Tests.Inference;
using SAMed.VolumeTesting;

namespace SAMed.Tests.VolumeTesting;

/// <summary>SAMed's test protocol around an <see cref="ISliceSegmenter"/>: batching, metrics, files and bad input.</summary>
public class VolumeTesterTests
{
    [Fact]
    public void PerfectSegmenterScoresDiceOneAndHd95Zero()
    {
        var segmenter = new IntensitySegmenter(3);
        var tester = new VolumeTester(segmenter, new VolumeTestOptions { NumClasses = 3, BatchSize = 4 });
        var volumes = new[] { TestFiles.Volume("case0001"), TestFiles.Volume("case0002", depth: 9) };
        var progress = new List<VolumeTestProgress>();
        var report = tester.Run([.. volumes.Select(v => new VolumeTestItem(v.Name, v.Source, n => Task.FromResult(StoredVolume.FromPrepared(v, n))))], progress.Add);

        Assert.Equal(["case0001", "case0002"], report.Cases.Select(c => c.Case));
        Assert.All(report.Cases.SelectMany(c => c.Classes), m => Assert.Equal(new ClassMetric(1, 0), m));
        Assert.Equal(1.0, report.MeanDice);
        Assert.Equal(0.0, report.MeanHd95);
        Assert.Equal(2 + 3, segmenter.Calls); // ceil(6 / 4) + ceil(9 / 4) batches
        Assert.Contains(progress, p => p.CaseIndex == 1 && p.CaseCount == 2 && p.SlicesDone == 8 && p.SliceCount == 9 && p.Result is null);
        Assert.Equal(2, progress.Count(p => p.Result is not null));
        var firstCase = progress.Where(p => p.CaseIndex == 0).ToList();
        Assert.Equal(VolumeTestStage.Reading, firstCase[0].Stage);
        Assert.Equal((VolumeTestStage.Segmenting, 0), (firstCase[1].Stage, firstCase[1].SlicesDone));
        Assert.Equal(VolumeTestStage.Scoring, firstCase[^2].Stage);
        Assert.NotNull(firstCase[^1].Result);
    }

    [Fact]
    public void EmptyMasksFollowSamedsRule()
    {
        // Class 3 is never predicted: (0, 0). On a volume without class 3, predicting it gives (1, 0).
        var dropThree = new VolumeTester(new IntensitySegmenter(3, l => IntensitySegmenter.Replace(l, 3, 0)), new VolumeTestOptions { NumClasses = 3 });
        var missed = dropThree.TestVolume(Stored(TestFiles.Volume("a")));
        Assert.Equal(new ClassMetric(0, 0), missed.Classes[2]);
        Assert.Equal(new ClassMetric(1, 0), missed.Classes[0]);

        var oneAsThree = new VolumeTester(new IntensitySegmenter(3, l => IntensitySegmenter.Replace(l, 1, 3)), new VolumeTestOptions { NumClasses = 3 });
        var spurious = oneAsThree.TestVolume(Stored(TestFiles.Volume("b", withClass3: false)));
        Assert.Equal(new ClassMetric(0, 0), spurious.Classes[0]);
        Assert.Equal(new ClassMetric(1, 0), spurious.Classes[2]);
    }

    [Fact]
    public void SpacingIsGivenAsXyzAndAppliedToTheZyxArrays()
    {
        var volume = Stored(TestFiles.Volume("case0001"));
        var shifted = new IntensitySegmenter(3, l => IntensitySegmenter.ShiftLeft(l, 2));
        var voxels = new VolumeTester(shifted, new VolumeTestOptions { NumClasses = 3 }).TestVolume(volume);
        var mm = new VolumeTester(shifted, new VolumeTestOptions { NumClasses = 3, Spacing = VolumeTestSpacing.Explicit, SpacingXyz = [2.5, 1, 3] })
            .TestVolume(volume);

        var prediction = new VolumeTester(shifted, new VolumeTestOptions { NumClasses = 3 }).PredictVolume(volume);
        var expected = SamedMetrics.MetricPerClass<byte>(prediction, volume.Labels, new VoxelGrid([6, 20, 24], [3, 1, 2.5]), 3);
        Assert.Equal(expected, mm.Classes);
        Assert.Equal(1.0, voxels.Classes[1].Hd95);
        Assert.Equal(2.5, mm.Classes[1].Hd95);
        Assert.True(mm.Classes[1].Dice < 1);

        var noHeader = new VolumeTester(shifted, new VolumeTestOptions { NumClasses = 3, Spacing = VolumeTestSpacing.Header });
        var error = Assert.Throws<InvalidDataException>(() => noHeader.TestVolume(volume));
        Assert.Contains(volume.Source, error.Message);
    }

    [Fact]
    public void SynapseLayoutRunWritesCsvAndNifti()
    {
        string root = TestFiles.TempDirectory();
        var layout = new SynapseLayout(root);
        Directory.CreateDirectory(layout.TestDir);
        foreach (var volume in new[] { TestFiles.Volume("case0001"), TestFiles.Volume("case0002", depth: 4) })
            WriteH5(layout.TestVolumePath(volume.Name), volume);
        SynapseLayout.WriteList(layout.TestListPath, ["case0002", "case0001"]);

        string niftiDir = Path.Combine(root, "predictions");
        var tester = new VolumeTester(new IntensitySegmenter(3), new VolumeTestOptions { NumClasses = 3, SaveNiftiDir = niftiDir });
        var report = tester.Run(VolumeTestSource.FromSynapse(layout));
        Assert.Equal(["case0002", "case0001"], report.Cases.Select(c => c.Case));
        Assert.Equal(1.0, report.MeanDice);

        string csv = Path.Combine(root, "metrics.csv");
        EvaluationCsv.Write(csv, report);
        var lines = File.ReadAllLines(csv);
        Assert.Equal(1 + 2 * (3 + 1) + 3 + 1, lines.Length);

        var prediction = Nifti.Read(Path.Combine(niftiDir, "case0002_pred.nii.gz"));
        var truth = Nifti.Read(Path.Combine(niftiDir, "case0002_gt.nii.gz"));
        var image = Nifti.Read(Path.Combine(niftiDir, "case0002_img.nii.gz"));
        Assert.Equal([24, 20, 4], prediction.Shape);
        Assert.Equal(NiftiDataType.UInt8, prediction.DataType);
        Assert.Equal(NiftiDataType.Float32, image.DataType);
        Assert.Equal(truth.ToFloat(), prediction.ToFloat());
        Assert.Equal(2.0, prediction[15, 12, 0]); // x 15, y 12 lies in class 2's box
        Assert.Equal("LPS", prediction.Orientation);
    }

    [Fact]
    public void ListNamingAMissingVolumeIsAnErrorNamingBoth()
    {
        string root = TestFiles.TempDirectory();
        var layout = new SynapseLayout(root);
        Directory.CreateDirectory(layout.TestDir);
        WriteH5(layout.TestVolumePath("case0001"), TestFiles.Volume("case0001"));
        SynapseLayout.WriteList(layout.TestListPath, ["case0001", "case0009"]);
        var error = Assert.Throws<FileNotFoundException>(() => VolumeTestSource.FromSynapse(layout));
        Assert.Contains(layout.TestListPath, error.Message);
        Assert.Contains(layout.TestVolumePath("case0009"), error.Message);
    }

    [Fact]
    public void LabelsOutOfRangeAreAnErrorNamingTheFile()
    {
        string root = TestFiles.TempDirectory();
        var layout = new SynapseLayout(root);
        Directory.CreateDirectory(layout.TestDir);
        var volume = TestFiles.Volume("case0001");
        volume.Label[5 * 20 * 24 + 3 * 24 + 7] = 4;
        WriteH5(layout.TestVolumePath("case0001"), volume);
        SynapseLayout.WriteList(layout.TestListPath, ["case0001"]);

        var segmenter = new IntensitySegmenter(3);
        var tester = new VolumeTester(segmenter, new VolumeTestOptions { NumClasses = 3 });
        var error = Assert.Throws<InvalidDataException>(() => tester.Run(VolumeTestSource.FromSynapse(layout)));
        Assert.Contains(layout.TestVolumePath("case0001"), error.Message);
        Assert.Contains("label 4 at (slice 5, y 3, x 7)", error.Message);
        Assert.Equal(0, segmenter.Calls);
    }

    [Fact]
    public void VolumeOfWrongRankIsAnErrorNamingTheFile()
    {
        string path = Path.Combine(TestFiles.TempDirectory(), "flat.npy.h5");
        var file = new H5File
        {
            ["image"] = new H5Dataset(new float[20 * 24], fileDims: [20, 24]),
            ["label"] = new H5Dataset(new float[20 * 24], fileDims: [20, 24]),
        };
        file.Write(path);
        var error = Assert.Throws<InvalidDataException>(() => VolumeTestItem.H5("flat", path).Load(3));
        Assert.Contains(path, error.Message);
        Assert.Contains("3D", error.Message);
    }

    [Fact]
    public void SegmenterWithOtherClassCountIsRejected()
    {
        Assert.Throws<ArgumentException>(() => new VolumeTester(new IntensitySegmenter(2), new VolumeTestOptions { NumClasses = 3 }));
    }

    private static StoredVolume Stored(PreparedVolume volume) => StoredVolume.FromPrepared(volume, 3);

    private static void WriteH5(string path, PreparedVolume volume)
    {
        long[] shape = [volume.Depth, volume.Height, volume.Width];
        SynapseH5.Write(path, new VolumeArrays(NpyArray.FromFloat32(volume.Image, shape), NpyArray.FromFloat32(volume.Label, shape)));
    }
}
