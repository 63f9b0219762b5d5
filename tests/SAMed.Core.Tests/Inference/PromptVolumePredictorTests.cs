using SAMed.Inference;
using SAMed.IO;
using SAMed.Tests.IO;
using SAMed.Tests.Reference;

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
