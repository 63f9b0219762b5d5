using System.Runtime.InteropServices;
using SAMed.Data;
using SAMed.Evaluation;
using SAMed.IO;
using SAMed.Tests.Inference;
using SAMed.Tests.Reference;
using SAMed.VolumeTesting;

namespace SAMed.Tests.VolumeTesting;

/// <summary>test on NIfTI pairs: prepare's preprocessing, the header's voxel size, and outputs on the source geometry.</summary>
public class VolumeTestNiftiTests
{
    [SkippableFact]
    public void NiftiPairsAreTestedInMmAndSavedOnTheirOwnGrid()
    {
        var cases = SharedCase("3mm");
        var items = VolumeTestSource.FromNifti(cases, LabelMap.TotalSegmentator);
        var volume = items[0].Load(8);
        Assert.Equal((30, 101, 122), (volume.Depth, volume.Height, volume.Width));
        Assert.Equal(new double[] { 3, 3, 3 }, volume.SpacingXyz);
        var image = Enumerable.Range(0, volume.Depth).SelectMany(z => volume.ImagePlanes(z)[0].Cast<float>()).ToList();
        Assert.InRange(image.Min(), 0f, 0f);
        Assert.InRange(image.Max(), 1f, 1f);
        Assert.Equal(Enumerable.Range(0, 9).Select(v => (byte)v), volume.Labels.Distinct().Order());

        // A segmenter that returns the ground truth of the slice it is given scores 1 / 0 in mm too.
        string directory = TestFiles.TempDirectory();
        var truth = new GroundTruthSegmenter(volume);
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

    /// <summary>
    /// The stored-type path against the straightforward one it replaces, on the real 512 x 512 CT: prepare's whole
    /// windowed float32 volume and float labels, int label maps, every slice segmented, the metrics on int maps and the
    /// files built from the whole arrays. Slices, Dice/HD95 and the written bytes must be identical.
    /// </summary>
    [SkippableFact]
    [Trait("Category", "Slow")]
    public void StoredVolumeTestEqualsThePreparedVolumeComputation()
    {
        var cases = SharedCase("512");
        var options = new PrepareOptions { OutputDir = ".", LabelMap = LabelMap.TotalSegmentator };
        var prepared = Prepare.Load(cases[0], options);
        var items = VolumeTestSource.FromNifti(cases, LabelMap.TotalSegmentator);
        var stored = items[0].Load(8);
        for (int z = 0; z < prepared.Depth; z++)
            Assert.Equal(prepared.ImageSlice2D(z), stored.ImagePlanes(z)[0]);

        var segmenter = new IntensityBandSegmenter();
        int[] labels = [.. prepared.Label.Select(v => (int)v)];
        int[] prediction = [.. Enumerable.Range(0, prepared.Depth).SelectMany(z => segmenter.Segment([prepared.ImageSlice2D(z)])[0].Cast<int>())];
        var grid = new VoxelGrid([prepared.Depth, prepared.Height, prepared.Width], [.. prepared.SpacingXyz!.Reverse()]);
        var expected = SamedMetrics.MetricPerClass(prediction, labels, grid, 8);
        Assert.Contains(expected, m => m.Dice is > 0 and < 1);

        string directory = TestFiles.TempDirectory();
        var tester = new VolumeTester(segmenter, new VolumeTestOptions { NumClasses = 8, Spacing = VolumeTestSpacing.Header, SaveNiftiDir = directory, BatchSize = 3 });
        var report = tester.Run(items);
        Assert.Equal(expected, report.Cases.Single().Classes);

        var header = prepared.Geometry!;
        int[] shape = [prepared.Width, prepared.Height, prepared.Depth];
        string reference = TestFiles.TempDirectory();
        var files = new Dictionary<string, NiftiImage>
        {
            ["case0001_pred.nii.gz"] = NiftiImage.FromStored(header, shape, NiftiDataType.UInt8, [.. prediction.Select(v => (byte)v)]),
            ["case0001_img.nii.gz"] = NiftiImage.FromStored(header, shape, NiftiDataType.Float32, MemoryMarshal.AsBytes(prepared.Image.AsSpan()).ToArray()),
            ["case0001_gt.nii.gz"] = NiftiImage.FromStored(header, shape, NiftiDataType.UInt8, [.. labels.Select(v => (byte)v)]),
        };
        foreach (var (name, image) in files)
            Nifti.Write(Path.Combine(reference, name), image);
        var differing = files.Keys.Where(name => !File.ReadAllBytes(Path.Combine(reference, name)).SequenceEqual(File.ReadAllBytes(Path.Combine(directory, name))));
        Assert.Empty(differing);
    }

    [SkippableFact]
    public void LabelsOutsideTheClassesAreTheSameErrorAsFromThePreparedVolume()
    {
        var cases = SharedCase("3mm");
        var options = new PrepareOptions { OutputDir = ".", LabelMap = LabelMap.Get("identity") };
        var expected = Assert.Throws<InvalidDataException>(() => StoredVolume.FromPrepared(Prepare.Load(cases[0], options), 8));
        var items = VolumeTestSource.FromNifti(cases, LabelMap.Get("identity"));
        var error = Assert.Throws<InvalidDataException>(() => items[0].Load(8));
        Assert.Equal(expected.Message, error.Message);
        Assert.StartsWith(cases[0].LabelPath + ": ground-truth label ", error.Message);
    }

    private static IReadOnlyList<PrepareCase> SharedCase(string size)
    {
        string image = SharedPaths.Data("totalseg-example", $"ct_{size}.nii.gz"), label = SharedPaths.Data("totalseg-example", $"seg_{size}.nii.gz");
        Skip.IfNot(File.Exists(image) && File.Exists(label), $"{image} and {label} are not here");
        return PrepareCases.FromFiles(image, label, "case0001");
    }

    /// <summary>Classes by bands of the windowed intensity: large connected regions, as an organ segmentation has.</summary>
    private sealed class IntensityBandSegmenter : SAMed.Inference.ISliceSegmenter
    {
        public int NumClasses => 8;

        public IReadOnlyList<int[,]> Segment(IReadOnlyList<float[,]> slices) => [.. slices.Select(slice =>
        {
            var map = new int[slice.GetLength(0), slice.GetLength(1)];
            for (int y = 0; y < map.GetLength(0); y++)
                for (int x = 0; x < map.GetLength(1); x++)
                    map[y, x] = slice[y, x] < 0.4f ? 0 : Math.Min(8, 1 + (int)((slice[y, x] - 0.4f) * 14));
            return map;
        })];
    }

    /// <summary>Finds each slice in the volume by its image and returns that slice's labels.</summary>
    private sealed class GroundTruthSegmenter(StoredVolume volume) : SAMed.Inference.ISliceSegmenter
    {
        public int NumClasses => 8;

        public IReadOnlyList<int[,]> Segment(IReadOnlyList<float[,]> slices) => [.. slices.Select(slice =>
        {
            int z = Enumerable.Range(0, volume.Depth).First(k => volume.ImagePlanes(k)[0].Cast<float>().SequenceEqual(slice.Cast<float>()));
            var map = new int[volume.Height, volume.Width];
            for (int i = 0; i < volume.SliceSize; i++)
                map[i / volume.Width, i % volume.Width] = volume.Labels[z * volume.SliceSize + i];
            return map;
        })];
    }
}
