using SAMed.Data;
using SAMed.Inference;
using SAMed.IO;
using SAMed.Tests.IO;
using SAMed.Tests.Reference;
using SAMed.VolumeTesting;
using TorchSharp;

namespace SAMed.Tests.Inference;

/// <summary>predict: NIfTI in, uint8 label map out on the input's exact grid; slicing, windowing, overlays and bad input.</summary>
public class VolumePredictorTests
{
    [Theory]
    [InlineData("ct_512.nii.gz")]
    [InlineData("ct_3mm.nii.gz")]
    [Trait("Category", "Slow")]
    public void TinyModelPredictionKeepsTheInputGeometry(string name)
    {
        string input = SharedPaths.Data("totalseg-example", name);
        string directory = TestFiles.TempDirectory();
        torch.manual_seed(3);
        using var model = SegmentationModel.Load(new ModelLoadOptions { ModelType = "tiny", ImageSize = 32, NumClasses = 8, InputSize = 32 });
        var predictor = new VolumePredictor(new SamedSliceSegmenter(model), PredictOptions.From(model.Config) with
        {
            BatchSize = 8,
            OverlayDir = Path.Combine(directory, "overlays"),
        });
        var progress = new List<PredictProgress>();
        var results = predictor.PredictPath(input, directory, progress.Add);

        var result = Assert.Single(results);
        Assert.Equal(Path.Combine(directory, name), result.Output);
        var source = Nifti.Read(input);
        var output = Nifti.Read(result.Output);
        var (want, got) = (source.Header, output.Header);
        Assert.Equal(source.Shape, output.Shape);
        Assert.Equal(NiftiDataType.UInt8, output.DataType);
        Assert.Equal(source.Affine, output.Affine);
        Assert.Equal(source.Orientation, output.Orientation);
        Assert.Equal(want.PixDim, got.PixDim);
        Assert.Equal((want.QformCode, want.SformCode), (got.QformCode, got.SformCode));
        Assert.Equal((want.QuaternB, want.QuaternC, want.QuaternD), (got.QuaternB, got.QuaternC, got.QuaternD));
        Assert.Equal((want.QOffsetX, want.QOffsetY, want.QOffsetZ), (got.QOffsetX, got.QOffsetY, got.QOffsetZ));
        Assert.Equal([want.SRowX, want.SRowY, want.SRowZ], [got.SRowX, got.SRowY, got.SRowZ]);
        Assert.Equal(want.XyztUnits, got.XyztUnits);
        Assert.Equal(NiftiAffine.Qform(want), NiftiAffine.Qform(got));
        Assert.All(output.ToFloat(), v => Assert.InRange(v, 0, 8));
        Assert.Equal(source.VoxelCount, result.ClassVoxels.Sum());
        Assert.Equal(source.Shape[2], progress[^1].SliceCount);
        Assert.Equal(source.Shape[2], progress[^1].SlicesDone);

        var png = File.ReadAllBytes(result.Overlay!);
        PngTests.AssertValidRgbPng(png);
    }

    [Fact]
    public void PredictAndTestGiveTheSameLabelsForTheSameVolume()
    {
        // The h5 layout is the NIfTI voxel array transposed to [z, y, x]; both paths must slice it the same way.
        var volume = TestFiles.Volume("case0001", depth: 5);
        using var model = SegmentationModel.Load(new ModelLoadOptions { ModelType = "tiny", ImageSize = 32, NumClasses = 3, InputSize = 16, Seed = 9 });
        var segmenter = new SamedSliceSegmenter(model);
        var tested = new VolumeTester(segmenter, new VolumeTestOptions { NumClasses = 3, BatchSize = 3 })
            .PredictVolume(StoredVolume.FromPrepared(volume, 3));

        string directory = TestFiles.TempDirectory();
        string input = Path.Combine(directory, "case0001.nii.gz");
        var header = VolumeTestNifti.SamedHeader();
        Nifti.Write(input, NiftiImage.Create(header, [volume.Width, volume.Height, volume.Depth], NiftiDataType.Float32, volume.Image.Select(v => (double)v).ToArray()));
        var predictor = new VolumePredictor(segmenter, new PredictOptions { ApplyWindow = false, BatchSize = 2 });
        var result = predictor.PredictFile(input, Path.Combine(directory, "out.nii.gz"));
        Assert.Equal(tested, Nifti.Read(result.Output).RawData.ToArray());
        Assert.Contains(tested, v => v != 0);
    }

    [Fact]
    public void SlicesFollowSamedsLayoutAndEveryAxisRoundTrips()
    {
        int nx = 5, ny = 4, nz = 3;
        var values = Enumerable.Range(0, nx * ny * nz).Select(i => (float)i).ToArray();
        var slicer = new VolumeSlicer([nx, ny, nz], 2);
        var slice = slicer.Slice(values, 2);
        Assert.Equal((ny, nx), (slice.GetLength(0), slice.GetLength(1)));
        Assert.Equal(3 + nx * (1 + ny * 2), slice[1, 3]); // [y, x] of z = 2, as prepare's transpose lays it out

        for (int axis = 0; axis < 3; axis++)
        {
            var s = new VolumeSlicer([nx, ny, nz], axis);
            var labels = new byte[nx * ny * nz];
            for (int k = 0; k < s.SliceCount; k++)
            {
                var part = s.Slice(values, k);
                var asLabels = new int[s.Rows, s.Columns];
                for (int r = 0; r < s.Rows; r++)
                    for (int c = 0; c < s.Columns; c++)
                        asLabels[r, c] = (int)part[r, c];
                s.Put(labels, k, asLabels);
            }
            Assert.Equal(values.Select(v => (byte)v), labels);

            var sparse = new byte[nx * ny * nz];
            sparse[3 + nx * (1 + ny * 2)] = 7; // (x 3, y 1, z 2)
            int marked = axis switch { 0 => 3, 1 => 1, _ => 2 };
            for (int k = 0; k < s.SliceCount; k++)
            {
                Assert.Equal(k == marked, s.AnyNonZero(sparse, k));
                Assert.Equal(s.Slice(sparse, k).Cast<int>().Any(v => v != 0), s.AnyNonZero(sparse, k));
            }
        }
    }

    [Fact]
    public void WindowingMapsHuToUnitRangeAndOtherAxesWork()
    {
        string directory = TestFiles.TempDirectory();
        var like = Nifti.Read(SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz"));
        int[] shape = [6, 5, 4];
        var hu = Enumerable.Range(0, 120).Select(i => -300.0 + i * 5).ToArray();
        string input = Path.Combine(directory, "small.nii");
        Nifti.Write(input, NiftiImage.Create(like.Header, shape, NiftiDataType.Int16, hu));

        var seen = new List<float[,]>();
        var recorder = new RecordingSegmenter(seen);
        var predictor = new VolumePredictor(recorder, new PredictOptions { SliceAxis = 0, BatchSize = 4 });
        var output = Path.Combine(directory, "out", "small_seg.nii.gz");
        predictor.PredictFile(input, output);

        Assert.Equal(6, seen.Count);
        Assert.Equal((4, 5), (seen[0].GetLength(0), seen[0].GetLength(1))); // slices along x are [z, y]
        float Expected(double v) => (Math.Clamp((float)v, -125f, 275f) - -125f) / 400f;
        Assert.Equal(Expected(hu[1 + 6 * (2 + 5 * 3)]), seen[1][3, 2]);
        var labels = Nifti.Read(output);
        Assert.Equal(shape, labels.Shape);
        Assert.Equal(1.0, labels[1, 2, 3]); // 215 HU: class 1
        Assert.Equal(0.0, labels[0, 0, 0]); // -300 HU: background
    }

    [Fact]
    public void FoldersArePredictedFileByFileAndBadInputIsNamed()
    {
        string directory = TestFiles.TempDirectory();
        string inputs = Path.Combine(directory, "in");
        Directory.CreateDirectory(inputs);
        var like = Nifti.Read(SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz"));
        var values = new double[4 * 4 * 3];
        Nifti.Write(Path.Combine(inputs, "a.nii.gz"), NiftiImage.Create(like.Header, [4, 4, 3], NiftiDataType.Int16, values));
        Nifti.Write(Path.Combine(inputs, "b.nii"), NiftiImage.Create(like.Header, [4, 4, 3], NiftiDataType.Int16, values));
        File.WriteAllText(Path.Combine(inputs, "notes.txt"), "not a volume");
        var predictor = new VolumePredictor(new RecordingSegmenter([]), new PredictOptions());
        var results = predictor.PredictPath(inputs, Path.Combine(directory, "out"));
        Assert.Equal(["a.nii.gz", "b.nii"], results.Select(r => Path.GetFileName(r.Output)));
        Assert.All(results, r => Assert.True(File.Exists(r.Output)));

        string flat = Path.Combine(inputs, "flat.nii");
        Nifti.Write(flat, NiftiImage.Create(like.Header, [4, 4], NiftiDataType.Int16, new double[16]));
        var rank = Assert.Throws<InvalidDataException>(() => predictor.PredictFile(flat, Path.Combine(directory, "flat_seg.nii")));
        Assert.Contains(flat, rank.Message);
        Assert.Contains("3D", rank.Message);

        string missing = Path.Combine(directory, "missing.nii.gz");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => predictor.PredictPath(missing, directory)).Message);
        Assert.Throws<ArgumentException>(() => predictor.PredictFile(flat, flat));

        string truncated = Path.Combine(directory, "cut.nii.gz");
        var bytes = File.ReadAllBytes(SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz"));
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 3)]);
        Assert.Contains(truncated, Assert.Throws<InvalidDataException>(() => predictor.PredictFile(truncated, Path.Combine(directory, "cut_seg.nii.gz"))).Message);
    }

    [Fact]
    public void StreamedPredictionEqualsTheWholeVolumeOneOnTheRealCt()
    {
        // The streamed predictor against the whole-volume algorithm it replaced (every voxel converted and windowed
        // first, slices cut from that array), with the tiny model and SAMed's zooms, byte for byte in the written file.
        string input = SharedPaths.Data("totalseg-example", "ct_512.nii.gz");
        string directory = TestFiles.TempDirectory();
        using var model = SegmentationModel.Load(new ModelLoadOptions { ModelType = "tiny", ImageSize = 64, InputSize = 64, NumClasses = 8, Seed = 5 });
        var segmenter = new SamedSliceSegmenter(model);
        var options = PredictOptions.From(model.Config) with { BatchSize = 3 };
        var streamed = new VolumePredictor(segmenter, options).PredictPath(input, Path.Combine(directory, "streamed.nii.gz"));

        string whole = Path.Combine(directory, "whole.nii.gz");
        Nifti.Write(whole, WholeVolumePrediction(Nifti.Read(input), segmenter, options));
        Assert.Equal(File.ReadAllBytes(whole), File.ReadAllBytes(Assert.Single(streamed).Output));
        Assert.Contains(Nifti.Read(whole).RawData.ToArray(), v => v != 0);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void StreamedSlicesAlongEveryAxisEqualTheWholeVolumeOnes(int axis)
    {
        var image = Nifti.Read(SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz"));
        var segmenter = new RecordingSegmenter([]);
        var options = new PredictOptions { SliceAxis = axis, BatchSize = 7 };
        var streamed = new VolumePredictor(segmenter, options).Predict(image, "ct_3mm");
        var whole = WholeVolumePrediction(image, segmenter, options);
        Assert.Equal(whole.Header.ToBytes(), streamed.Header.ToBytes());
        Assert.Equal(whole.RawData.ToArray(), streamed.RawData.ToArray());
    }

    [Fact]
    public void AFailureHalfWayLeavesNoPartialOutputAndKeepsWhatWasWritten()
    {
        string directory = TestFiles.TempDirectory();
        string inputs = Path.Combine(directory, "in"), outputs = Path.Combine(directory, "out");
        Directory.CreateDirectory(inputs);
        var ct = File.ReadAllBytes(SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz"));
        File.WriteAllBytes(Path.Combine(inputs, "a.nii.gz"), ct);
        File.WriteAllBytes(Path.Combine(inputs, "b.nii.gz"), ct[..(ct.Length / 2)]); // a whole header, half the voxels
        File.WriteAllBytes(Path.Combine(inputs, "c.nii.gz"), ct);
        Directory.CreateDirectory(outputs);
        File.WriteAllText(Path.Combine(outputs, "c.nii.gz"), "an earlier result");

        var predictor = new VolumePredictor(new RecordingSegmenter([]), new PredictOptions { BatchSize = 4 });
        var error = Assert.Throws<InvalidDataException>(() => predictor.PredictPath(inputs, outputs));
        Assert.Contains(Path.Combine(inputs, "b.nii.gz"), error.Message);
        Assert.Equal(["a.nii.gz", "c.nii.gz"], Directory.GetFiles(outputs).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(Nifti.Read(Path.Combine(inputs, "a.nii.gz")).Shape, Nifti.Read(Path.Combine(outputs, "a.nii.gz")).Shape);

        // The model failing (or the run being interrupted) in the middle of a volume: the old file stays as it was.
        var failing = new VolumePredictor(new FailingSegmenter(failAfter: 2), new PredictOptions { BatchSize = 4 });
        Assert.Throws<InvalidOperationException>(() => failing.PredictPath(Path.Combine(inputs, "c.nii.gz"), outputs));
        using var interrupt = new CancellationTokenSource();
        var progress = new List<PredictProgress>();
        Assert.ThrowsAny<OperationCanceledException>(() => predictor.PredictPath(Path.Combine(inputs, "c.nii.gz"), outputs, p =>
        {
            progress.Add(p);
            if (p.SlicesDone >= 8)
                interrupt.Cancel();
        }, interrupt.Token));
        Assert.Equal(8, progress[^1].SlicesDone);
        Assert.Equal("an earlier result", File.ReadAllText(Path.Combine(outputs, "c.nii.gz")));
        Assert.Equal(["a.nii.gz", "c.nii.gz"], Directory.GetFiles(outputs).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ProgressCountsSlicesOfTheVolumeAndOfTheRun()
    {
        string directory = TestFiles.TempDirectory();
        var like = Nifti.Read(SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz"));
        Nifti.Write(Path.Combine(directory, "in", "a.nii"), NiftiImage.Create(like.Header, [4, 4, 3], NiftiDataType.Int16, new double[48]));
        Nifti.Write(Path.Combine(directory, "in", "b.nii"), NiftiImage.Create(like.Header, [4, 4, 5], NiftiDataType.Int16, new double[80]));
        var progress = new List<PredictProgress>();
        new VolumePredictor(new RecordingSegmenter([]), new PredictOptions { BatchSize = 2 })
            .PredictPath(Path.Combine(directory, "in"), Path.Combine(directory, "out"), progress.Add);
        var segmenting = progress.Where(p => p.Stage == PredictStage.Segmenting).ToList();
        Assert.Equal([0, 2, 3, 0, 2, 4, 5], segmenting.Select(p => p.SlicesDone));
        Assert.Equal([0, 2, 3, 3, 5, 7, 8], segmenting.Select(p => p.SlicesDoneInRun));
        Assert.All(progress, p => Assert.Equal(8, p.SliceCountInRun));
        Assert.Equal(PredictStage.Reading, progress[0].Stage);
    }

    /// <summary>The whole-volume algorithm: all voxels to float32 and windowed, slices cut from that array, labels put back.</summary>
    private static NiftiImage WholeVolumePrediction(NiftiImage image, ISliceSegmenter segmenter, PredictOptions options)
    {
        var values = image.ToFloat().Select(v => SAMed.Data.HuWindow.Apply(v, (float)options.WindowMin, (float)options.WindowMax)).ToArray();
        var slicer = new VolumeSlicer(image.Shape[..3], options.SliceAxis);
        var labels = new byte[values.Length];
        for (int start = 0; start < slicer.SliceCount; start += options.BatchSize)
        {
            int count = Math.Min(options.BatchSize, slicer.SliceCount - start);
            var maps = segmenter.Segment([.. Enumerable.Range(start, count).Select(k => slicer.Slice(values, k))]);
            for (int i = 0; i < count; i++)
                slicer.Put(labels, start + i, maps[i]);
        }
        return NiftiImage.Create(image.Header, image.Shape, NiftiDataType.UInt8, labels.Select(v => (double)v).ToArray());
    }

    /// <summary>Labels everything 0 for <paramref name="failAfter"/> batches, then throws.</summary>
    private sealed class FailingSegmenter(int failAfter) : ISliceSegmenter
    {
        private int batches;

        public int NumClasses => 2;

        public IReadOnlyList<int[,]> Segment(IReadOnlyList<float[,]> slices) => ++batches > failAfter
            ? throw new InvalidOperationException("the model failed")
            : [.. slices.Select(s => new int[s.GetLength(0), s.GetLength(1)])];
    }

    /// <summary>Records the slices it gets and labels every pixel at or above 0.3125 (0 HU after windowing) as class 1.</summary>
    private sealed class RecordingSegmenter(List<float[,]> seen) : ISliceSegmenter
    {
        public int NumClasses => 2;

        public IReadOnlyList<int[,]> Segment(IReadOnlyList<float[,]> slices)
        {
            seen.AddRange(slices);
            return [.. slices.Select(s =>
            {
                var labels = new int[s.GetLength(0), s.GetLength(1)];
                for (int y = 0; y < labels.GetLength(0); y++)
                    for (int x = 0; x < labels.GetLength(1); x++)
                        labels[y, x] = s[y, x] >= 0.3125f ? 1 : 0;
                return labels;
            })];
        }
    }
}
