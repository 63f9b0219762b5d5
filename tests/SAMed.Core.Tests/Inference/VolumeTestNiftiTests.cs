using SAMed.Data;
using SAMed.Evaluation;
using SAMed.IO;
using SAMed.Tests.Reference;

namespace SAMed.Tests.Inference;

/// <summary>test on NIfTI pairs: prepare's preprocessing, the header's voxel size, and outputs on the source geometry.</summary>
public class VolumeTestNiftiTests
{
    [Fact]
    public void NiftiPairsAreTestedInMmAndSavedOnTheirOwnGrid()
    {
        var cases = PrepareCases.FromFiles(
            SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz"), SharedPaths.Data("totalseg-example", "seg_3mm.nii.gz"), "case0001");
        var items = VolumeTestSource.FromNifti(cases, LabelMap.TotalSegmentator);
        var volume = items[0].Load();
        Assert.Equal((30, 101, 122), (volume.Depth, volume.Height, volume.Width));
        Assert.Equal(new double[] { 3, 3, 3 }, volume.SpacingXyz);
        Assert.InRange(volume.Image.Min(), 0f, 0f);
        Assert.InRange(volume.Image.Max(), 1f, 1f);
        var labels = volume.CheckedLabels(8);
        Assert.Equal(Enumerable.Range(0, 9), labels.Distinct().Order());

        // A segmenter that returns the ground truth of the slice it is given scores 1 / 0 in mm too.
        string directory = TestFiles.TempDirectory();
        var truth = new GroundTruthSegmenter(volume, labels);
        var tester = new VolumeTester(truth, new VolumeTestOptions { NumClasses = 8, Spacing = VolumeTestSpacing.Header, SaveNiftiDir = directory, BatchSize = 7 });
        var report = tester.Run(items);
        Assert.Equal("mm", report.DistanceUnit);
        Assert.Equal(1.0, report.MeanDice);
        Assert.Equal(0.0, report.MeanHd95);

        var source = Nifti.Read(SharedPaths.Data("totalseg-example", "seg_3mm.nii.gz"));
        var saved = Nifti.Read(Path.Combine(directory, "case0001_gt.nii.gz"));
        var predicted = Nifti.Read(Path.Combine(directory, "case0001_pred.nii.gz"));
        Assert.Equal(source.Shape, saved.Shape);
        Assert.Equal(source.Affine, saved.Affine);
        Assert.Equal(saved.ToFloat(), predicted.ToFloat());
        Assert.Equal(source.ToDouble().Select(v => (double)LabelMap.TotalSegmentator.Map((int)v)), saved.ToDouble());
    }

    /// <summary>Finds each slice in the volume by its image and returns that slice's labels.</summary>
    private sealed class GroundTruthSegmenter(PreparedVolume volume, int[] labels) : SAMed.Inference.ISliceSegmenter
    {
        public int NumClasses => 8;

        public IReadOnlyList<int[,]> Segment(IReadOnlyList<float[,]> slices) => [.. slices.Select(slice =>
        {
            int z = Enumerable.Range(0, volume.Depth).First(k => volume.ImageSlice(k).Cast<float>().SequenceEqual(slice.Cast<float>()));
            var map = new int[volume.Height, volume.Width];
            Buffer.BlockCopy(labels, z * volume.SliceSize * sizeof(int), map, 0, volume.SliceSize * sizeof(int));
            return map;
        })];
    }
}
