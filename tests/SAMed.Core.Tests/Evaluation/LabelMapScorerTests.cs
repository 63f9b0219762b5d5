using SAMed.Evaluation;
using SAMed.IO;
using SAMed.Tests.Reference;

namespace SAMed.Tests.Evaluation;

public sealed class LabelMapScorerTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), $"score-{Guid.NewGuid():N}");

    public LabelMapScorerTests() => Directory.CreateDirectory(folder);

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void NiftiVoxelSizesFollowTheArrayAxes()
    {
        // Stored [X=6, Y=4, Z=3] with voxel sizes x=1, y=2, z=3 mm; one voxel each, apart by 2 along x or 1 along z.
        var header = new NiftiHeader { PixDim = [1, 1, 2, 3, 1, 1, 1, 1] };
        static double[] Voxel(int x, int y, int z)
        {
            var values = new double[6 * 4 * 3];
            values[x + 6 * (y + 4 * z)] = 1;
            return values;
        }

        string reference = Write("gt.nii.gz", NiftiImage.Create(header, [6, 4, 3], NiftiDataType.UInt8, Voxel(1, 1, 1)));
        string alongX = Write("x.nii.gz", NiftiImage.Create(header, [6, 4, 3], NiftiDataType.UInt8, Voxel(3, 1, 1)));
        string alongZ = Write("z.nii.gz", NiftiImage.Create(header, [6, 4, 3], NiftiDataType.UInt8, Voxel(1, 1, 2)));

        var gt = LabelVolume.Read(reference);
        Assert.Equal([3, 4, 6], gt.Shape);
        Assert.Equal([3.0, 2.0, 1.0], gt.Spacing!);
        Assert.Equal(2.0, LabelMapScorer.ScoreCase("x", LabelVolume.Read(alongX), gt, 1, useSpacing: true).Classes[0].Hd95, 1e-12);
        Assert.Equal(3.0, LabelMapScorer.ScoreCase("z", LabelVolume.Read(alongZ), gt, 1, useSpacing: true).Classes[0].Hd95, 1e-12);
        Assert.Equal(1.0, LabelMapScorer.ScoreCase("z", LabelVolume.Read(alongZ), gt, 1, useSpacing: false).Classes[0].Hd95, 1e-12);
    }

    [Fact]
    public void ExplicitSpacingIsXyzAndTheReferenceLabelMapAppliesFirst()
    {
        // [Z=3, Y=4, X=6] arrays without spacing (.npy-like); one voxel apart by 2 along x or 1 along z.
        static int[] Voxel(int x, int y, int z, int value)
        {
            var values = new int[6 * 4 * 3];
            values[x + 6 * (y + 4 * z)] = value;
            return values;
        }

        var gt = new LabelVolume("gt", [3, 4, 6], Voxel(1, 1, 1, 11), null, null);
        var alongX = new LabelVolume("x", [3, 4, 6], Voxel(3, 1, 1, 8), null, null);
        var alongZ = new LabelVolume("z", [3, 4, 6], Voxel(1, 1, 2, 8), null, null);
        var options = new ScoreOptions
        {
            NumClasses = 8,
            Spacing = VolumeTestSpacing.Explicit,
            SpacingXyz = [0.5, 2, 4],
            ReferenceLabelMap = SAMed.Data.LabelMap.Synapse13, // raw Synapse 11 (pancreas) is SAMed's class 8
        };
        Assert.Equal(1.0, LabelMapScorer.ScoreCase("x", alongX, gt, options).Classes[7].Hd95, 1e-12);
        Assert.Equal(4.0, LabelMapScorer.ScoreCase("z", alongZ, gt, options).Classes[7].Hd95, 1e-12);
        var nan = LabelMapScorer.ScoreCase("x", alongX, gt, options with { Absent = AbsentClassRule.Nan });
        Assert.True(double.IsNaN(nan.Classes[0].Dice));
        Assert.Equal(0, LabelMapScorer.ScoreCase("x", alongX, gt, options).Classes[0].Dice);
    }

    [Fact]
    public void RealSegmentationAgainstAShiftedCopy()
    {
        var source = Nifti.Read(SharedPaths.Data("totalseg-example", "seg_3mm.nii.gz"));
        var labels = source.ToDouble().Select(v => v is >= 1 and <= 7 ? (int)v : 0).ToArray();
        // Shift by one voxel along x (the fastest NIfTI axis) to make an imperfect prediction.
        var shifted = labels.Select((_, i) => i % source.Shape[0] == 0 ? 0 : labels[i - 1]).ToArray();
        string gtPath = Write("case01.nii.gz", NiftiImage.FromLabels(source, labels));
        Directory.CreateDirectory(Path.Combine(folder, "pred"));
        string predPath = Path.Combine("pred", "case01.nii.gz");
        Write(predPath, NiftiImage.FromLabels(source, shifted));
        Directory.CreateDirectory(Path.Combine(folder, "gt"));
        File.Move(gtPath, Path.Combine(folder, "gt", "case01.nii.gz"));

        var pairs = ScorePair.Match(Path.Combine(folder, "pred"), Path.Combine(folder, "gt"));
        var report = LabelMapScorer.Score(pairs, 7, useSpacing: true);

        var gt = LabelVolume.Read(Path.Combine(folder, "gt", "case01.nii.gz"));
        var expected = SamedMetrics.MetricPerClass(shifted, labels, new VoxelGrid(gt.Shape, [3.0, 3.0, 3.0]), 7);
        Assert.Equal("case01", report.Cases.Single().Case);
        Assert.Equal(expected, report.Cases[0].Classes);
        Assert.Equal("mm", report.DistanceUnit);
        Assert.All(report.Cases[0].Classes, m => Assert.InRange(m.Dice, 0.3, 0.999));
        Assert.All(report.Cases[0].Classes, m => Assert.InRange(m.Hd95, 3.0, 30.0));
    }

    [Fact]
    public void SamedTestVolumeScoresItsOwnLabelPerfectly()
    {
        string h5 = Directory.GetFiles(SharedPaths.Reference("prepare", "test_vol_h5"), "*.npy.h5").Order().First();
        var volume = LabelVolume.Read(h5);
        var label = SynapseH5.Read(h5).Label;
        Assert.Equal(label.Shape.Select(d => (int)d), volume.Shape);
        Assert.Equal(label.ToDouble().Select(v => (int)v), volume.Labels);
        Assert.Null(volume.Spacing);

        var evaluation = LabelMapScorer.ScoreCase(ScorePair.CaseName(h5)!, volume, volume, 8, useSpacing: false);
        Assert.Equal("case0001", evaluation.Case);
        int[] present = [.. volume.Labels.Where(v => v > 0).Distinct()];
        Assert.NotEmpty(present);
        for (int c = 1; c <= 8; c++)
            Assert.Equal(present.Contains(c) ? new ClassMetric(1, 0) : new ClassMetric(0, 0), evaluation.Classes[c - 1]);
    }

    [Fact]
    public void ShapeMismatchNamesBothFiles()
    {
        string a = Write("a.npy", NpyArray.FromUInt8([0, 1, 1, 0], 2, 2));
        string b = Write("b.npy", NpyArray.FromUInt8([0, 1, 1, 0], 1, 4));
        var error = Assert.Throws<InvalidDataException>(() =>
            LabelMapScorer.ScoreCase("c", LabelVolume.Read(a), LabelVolume.Read(b), 1, useSpacing: false));
        Assert.Contains(a, error.Message);
        Assert.Contains(b, error.Message);
    }

    [Fact]
    public void AffineMismatchNamesBothFiles()
    {
        var first = NiftiImage.Create(new NiftiHeader { PixDim = [1, 1, 1, 1, 1, 1, 1, 1] }, [2, 2, 1], NiftiDataType.UInt8, [0, 1, 1, 0]);
        var second = NiftiImage.Create(new NiftiHeader { PixDim = [1, 1, 1, 2, 1, 1, 1, 1] }, [2, 2, 1], NiftiDataType.UInt8, [0, 1, 1, 0]);
        string a = Write("a.nii", first), b = Write("b.nii", second);
        var error = Assert.Throws<InvalidDataException>(() =>
            LabelMapScorer.ScoreCase("c", LabelVolume.Read(a), LabelVolume.Read(b), 1, useSpacing: false));
        Assert.Contains("affine", error.Message);
        Assert.Contains(a, error.Message);
        Assert.Contains(b, error.Message);
    }

    [Fact]
    public void SpacingNeedsAVoxelSizeInTheFiles()
    {
        string a = Write("a.npy", NpyArray.FromUInt8([0, 1, 1, 0], 2, 2));
        var error = Assert.Throws<InvalidDataException>(() =>
            LabelMapScorer.ScoreCase("c", LabelVolume.Read(a), LabelVolume.Read(a), 1, useSpacing: true));
        Assert.Contains("voxel size", error.Message);
    }

    [Fact]
    public void NonIntegerLabelsNameTheFile()
    {
        string a = Write("a.npy", NpyArray.FromFloat32([0, 1.5f, 1, 0], 2, 2));
        var error = Assert.Throws<InvalidDataException>(() => LabelVolume.Read(a));
        Assert.Contains(a, error.Message);
        Assert.Contains("1.5", error.Message);
    }

    [Fact]
    public void FoldersMustPairEveryCase()
    {
        Directory.CreateDirectory(Path.Combine(folder, "p"));
        Directory.CreateDirectory(Path.Combine(folder, "r"));
        Write(Path.Combine("p", "case1.npy"), NpyArray.FromUInt8([1], 1));
        Write(Path.Combine("p", "case2.npy"), NpyArray.FromUInt8([1], 1));
        Write(Path.Combine("r", "case1.nii.gz"), NiftiImage.Create(new NiftiHeader(), [1], NiftiDataType.UInt8, [1]));
        File.WriteAllBytes(Path.Combine(folder, "r", "case3.npy.h5"), []); // matching looks at names only
        var error = Assert.Throws<InvalidDataException>(() => ScorePair.Match(Path.Combine(folder, "p"), Path.Combine(folder, "r")));
        Assert.Contains("case2.npy", error.Message);
        Assert.Contains("case3.npy.h5", error.Message);

        File.Delete(Path.Combine(folder, "p", "case2.npy"));
        File.Delete(Path.Combine(folder, "r", "case3.npy.h5"));
        var pair = Assert.Single(ScorePair.Match(Path.Combine(folder, "p"), Path.Combine(folder, "r")));
        Assert.Equal("case1", pair.Case);
    }

    private string Write(string name, NiftiImage image)
    {
        string path = Path.Combine(folder, name);
        Nifti.Write(path, image);
        return path;
    }

    private string Write(string name, NpyArray array)
    {
        string path = Path.Combine(folder, name);
        Npy.Write(path, array);
        return path;
    }
}
