using SAMed.Data;
using SAMed.Inference;
using SAMed.IO;
using SAMed.Tests.IO;
using SAMed.Tests.Reference;
using SAMed.VolumeTesting;

namespace SAMed.Tests.Inference;

/// <summary>predict with prompts: a promptable SAM on the real CT, label maps on the input's grid, prompt errors.</summary>
public class PromptVolumePredictorTests
{
    private static PromptableModel TinyModel() =>
        PromptableModel.Load(new ModelLoadOptions { ModelType = "tiny", ImageSize = 32, Seed = 5 }, PixelNorm.Sam);

    [Fact]
    public void BoxOnTheRealCtWritesALabelMapWithTheInputGeometryAndAnOverlayWithTheBox()
    {
        string input = SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz");
        string directory = TestFiles.TempDirectory();
        using var model = TinyModel();
        var predictor = new PromptVolumePredictor(model, new PredictOptions { OverlayDir = Path.Combine(directory, "overlays") });
        var box = new VolumeBox(30, 25, 70, 60, 12, 14);
        var result = predictor.PredictFile(input, Path.Combine(directory, "labels.nii.gz"), [new PromptedObject(7, box, [])]);

        var source = Nifti.Read(input);
        var output = Nifti.Read(result.Output);
        Assert.Equal(source.Shape, output.Shape);
        Assert.Equal(NiftiDataType.UInt8, output.DataType);
        Assert.Equal(source.Affine, output.Affine);
        Assert.Equal(source.Header.PixDim, output.Header.PixDim);
        Assert.Equal((source.Header.QformCode, source.Header.SformCode), (output.Header.QformCode, output.Header.SformCode));
        for (int z = 0; z < source.Shape[2]; z++)
            for (int y = 0; y < source.Shape[1]; y++)
                for (int x = 0; x < source.Shape[0]; x++)
                {
                    double v = output[x, y, z];
                    Assert.True(v is 0 or 7, $"label {v} at ({x}, {y}, {z})");
                    if (z < 12 || z > 14)
                        Assert.True(v == 0, $"a box on slices 12..14 labelled slice {z}");
                }
        Assert.Equal(source.VoxelCount, result.ClassVoxels.Sum());
        PngTests.AssertValidRgbPng(File.ReadAllBytes(result.Overlay!));
    }

    [Theory]
    [InlineData(2, true)]
    [InlineData(0, false)]
    public void SlicesReadFromTheStoredVolumeGiveTheLabelsOfTheWholeVolumeAlgorithm(int sliceAxis, bool window)
    {
        // A scaled int16 volume: each slice is read from the stored voxels and windowed when it is embedded; the
        // reference windows a float32 copy of the whole volume, keeps every mask and paints them per object at the end.
        int[] shape = [28, 24, 12];
        var values = new double[shape[0] * shape[1] * shape[2]];
        for (int z = 0, i = 0; z < shape[2]; z++)
            for (int y = 0; y < shape[1]; y++)
                for (int x = 0; x < shape[0]; x++, i++)
                {
                    double organ = Math.Pow((x - 14.0) / 9, 2) + Math.Pow((y - 12.0) / 8, 2) + Math.Pow((z - 6.0) / 4, 2);
                    values[i] = (organ < 1 ? 300 : -200) + (x * 7 + y * 13 + z * 29) % 40 - 1000;
                }
        var stored = NiftiImage.Create(VolumeTestNifti.SamedHeader(), shape, NiftiDataType.Int16, values);
        var image = new NiftiImage(stored.Header with { SclSlope = 0.5f, SclInter = 450 }, stored.RawData.ToArray());
        var slicer = new VolumeSlicer(shape, sliceAxis);
        int last = slicer.SliceCount - 1, rows = slicer.Rows, columns = slicer.Columns;
        int[] at = [0, 0, 0];
        VoxelPoint Click(int slice, int column, int row, bool positive = true)
        {
            at[slicer.SliceAxis] = slice;
            at[slicer.ColumnAxis] = column;
            at[slicer.RowAxis] = row;
            return new VoxelPoint(at[0], at[1], at[2], positive);
        }
        List<PromptedObject> objects =
        [
            new(3, new VolumeBox(4, 5, columns - 8, rows - 6, 1, last - 2), []),
            new(5, null, [Click(2, columns / 3, rows / 2), Click(last / 2, columns / 2, rows / 2), Click(last / 2, 1, 1, positive: false)]),
            new(9, new VolumeBox(columns / 4, rows / 4, columns * 3 / 4, rows * 3 / 4, last / 2, last), [Click(last - 1, columns / 2, rows / 2 + 1)]),
        ];
        var options = new PredictOptions { SliceAxis = sliceAxis, ApplyWindow = window, WindowMin = -125, WindowMax = 275 };
        using var model = TinyModel();

        var labels = new PromptVolumePredictor(model, options) { EmbeddingCacheSlices = 3 }.Predict(image, objects, "synthetic.nii.gz");
        var expected = WholeVolumePrediction(model, image, objects, options);

        Assert.Equal(NiftiDataType.UInt8, labels.DataType);
        Assert.Equal(expected.RawData.ToArray(), labels.RawData.ToArray());
        string directory = TestFiles.TempDirectory();
        Nifti.Write(Path.Combine(directory, "expected.nii"), expected);
        Nifti.Write(Path.Combine(directory, "labels.nii"), labels);
        Assert.Equal(File.ReadAllBytes(Path.Combine(directory, "expected.nii")), File.ReadAllBytes(Path.Combine(directory, "labels.nii")));
        var written = labels.RawData.ToArray();
        Assert.True(written.Distinct().Count() >= 3, $"labels {string.Join(", ", written.Distinct())}: the objects should leave at least two labels besides 0");
        Assert.True(slicer.Slice(written, 0).Cast<int>().Contains(5), "the clicked object should be carried past its first click to slice 0");
    }

    /// <summary>The prediction as a float32 copy of the whole volume, every mask of an object kept, then painted slice by slice.</summary>
    private static NiftiImage WholeVolumePrediction(PromptableModel model, NiftiImage image, IReadOnlyList<PromptedObject> objects, PredictOptions options)
    {
        var slicer = new VolumeSlicer(image.Shape[..3], options.SliceAxis);
        var values = image.ToFloat();
        if (options.ApplyWindow)
            for (int i = 0; i < values.Length; i++)
                values[i] = HuWindow.Apply(values[i], (float)options.WindowMin, (float)options.WindowMax);
        var size = (slicer.Rows, slicer.Columns);
        var labels = new byte[values.Length];
        foreach (var o in objects)
        {
            var masks = new SortedDictionary<int, bool[,]>();
            (int Slice, double Column, double Row) Where(VoxelPoint p)
            {
                int[] xyz = [p.X, p.Y, p.Z];
                return (xyz[slicer.SliceAxis], xyz[slicer.ColumnAxis], xyz[slicer.RowAxis]);
            }
            bool[,] Segment(int slice, SlicePrompt prompt)
            {
                using var embedding = model.EmbedSlice(slicer.Slice(values, slice));
                return model.Segment(embedding, size, prompt).Mask;
            }
            var seeds = new SortedSet<int>(o.Points.Where(p => p.Positive).Select(p => Where(p).Slice));
            if (o.Box is { } range)
                for (int s = range.SliceStart; s <= range.SliceEnd; s++)
                    seeds.Add(s);
            foreach (int s in seeds)
            {
                var points = o.Points.Where(p => Where(p).Slice == s).Select(p => (Where(p).Column, Where(p).Row, p.Positive ? 1 : 0)).ToList();
                (double, double, double, double)? box = o.Box is { } b && s >= b.SliceStart && s <= b.SliceEnd ? (b.X0, b.Y0, b.X1, b.Y1) : null;
                masks[s] = Segment(s, new SlicePrompt(points, box));
            }
            if (o.Box is null)
            {
                bool Step(int from, int to)
                {
                    if (to < 0 || to >= slicer.SliceCount || masks.ContainsKey(to) || !masks.TryGetValue(from, out var previous)
                        || PromptVolumePredictor.BoundingBox(previous) is not { } box)
                        return false;
                    masks[to] = Segment(to, new SlicePrompt([], box));
                    return PromptVolumePredictor.BoundingBox(masks[to]) is not null;
                }
                for (int s = seeds.Min; s < seeds.Max; s++)
                    Step(s, s + 1);
                for (int s = seeds.Max; Step(s, s + 1); s++)
                {
                }
                for (int s = seeds.Min; Step(s, s - 1); s--)
                {
                }
            }
            foreach (var (slice, mask) in masks)
            {
                var current = slicer.Slice(labels, slice);
                for (int r = 0; r < slicer.Rows; r++)
                    for (int c = 0; c < slicer.Columns; c++)
                        if (mask[r, c])
                            current[r, c] = o.Label;
                slicer.Put(labels, slice, current);
            }
        }
        return NiftiImage.Create(image.Header, image.Shape, NiftiDataType.UInt8, labels.Select(v => (double)v).ToArray());
    }

    [Theory]
    [InlineData(30, 25, 30, 60, 1, 2, "is empty")]
    [InlineData(30, 25, 200, 60, 1, 2, "outside")]
    [InlineData(30, 25, 70, 60, 5, 40, "slice range")]
    public void BadBoxesAreOneClearError(int x0, int y0, int x1, int y1, int z0, int z1, string message)
    {
        using var model = TinyModel();
        var predictor = new PromptVolumePredictor(model, new PredictOptions());
        var image = Nifti.Read(SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz"));
        var error = Assert.Throws<ArgumentException>(() =>
            predictor.Predict(image, [new PromptedObject(1, new VolumeBox(x0, y0, x1, y1, z0, z1), [])], "ct.nii.gz"));
        Assert.Contains(message, error.Message);
        Assert.StartsWith("ct.nii.gz: ", error.Message);
    }

    [Theory]
    [InlineData(1, 122, 1, 1, "outside the image")]
    [InlineData(0, 10, 10, 10, "label value")]
    [InlineData(256, 10, 10, 10, "label value")]
    public void BadPointsAndLabelsAreOneClearError(int label, int x, int y, int z, string message)
    {
        using var model = TinyModel();
        var predictor = new PromptVolumePredictor(model, new PredictOptions());
        var image = Nifti.Read(SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz"));
        var error = Assert.Throws<ArgumentException>(() =>
            predictor.Predict(image, [new PromptedObject(label, null, [new VoxelPoint(x, y, z)])], "ct.nii.gz"));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void NegativePointsAloneAreNotAnObject()
    {
        var slicer = new VolumeSlicer([10, 10, 4], 2);
        var error = Assert.Throws<ArgumentException>(() => new PromptedObject(1, null, [new VoxelPoint(1, 1, 1, Positive: false)]).Validate(slicer, "v"));
        Assert.Contains("positive point", error.Message);
    }

    [Fact]
    public void PromptsFileHoldsObjectsWithTheirLabels()
    {
        string path = Path.Combine(TestFiles.TempDirectory(), "prompts.json");
        File.WriteAllText(path, """
            {"objects": [
              {"label": 5, "box": [1, 2, 30, 40], "slices": [3, 9]},
              {"label": 2, "points": [[4, 5, 6]], "negative_points": [[7, 8, 6]]}
            ]}
            """);
        var objects = VolumePrompts.Load(path);
        Assert.Equal(2, objects.Count);
        Assert.Equal(new VolumeBox(1, 2, 30, 40, 3, 9), objects[0].Box);
        Assert.Equal(5, objects[0].Label);
        Assert.Equal([new VoxelPoint(4, 5, 6, true), new VoxelPoint(7, 8, 6, false)], objects[1].Points);

        File.WriteAllText(path, """{"objects": [{"label": 1, "box": [1, 2, 30, 40]}]}""");
        var error = Assert.Throws<InvalidDataException>(() => VolumePrompts.Load(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("slices", error.Message);
    }

    [Fact]
    public void BoundingBoxIsInclusiveAndNullWhenEmpty()
    {
        var mask = new bool[5, 6];
        Assert.Null(PromptVolumePredictor.BoundingBox(mask));
        mask[1, 2] = mask[3, 4] = true;
        Assert.Equal((2.0, 1.0, 4.0, 3.0), PromptVolumePredictor.BoundingBox(mask));
    }
}
