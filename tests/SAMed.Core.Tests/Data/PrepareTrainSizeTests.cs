using SAMed.Data;
using SAMed.IO;
using SAMed.Tests.Reference;
using SAMed.Tests.Training;
using SAMed.Training;

namespace SAMed.Tests.Data;

/// <summary>
/// prepare --train-size 224 on the real CT sample (../shared/data/totalseg-example, 30 slices of 101 x 122): every
/// training slice equals the scipy-exact zoom of the native slice (image order 3, label order 0, factors 224 / H and
/// 224 / W), the test volume stays native, and the trainer reads the 224 set.
/// </summary>
[Collection(TorchRngCollection.Name)]
public sealed class PrepareTrainSizeTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("prepare-224-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string PrepareInto(string name, int? trainSize)
    {
        var cases = PrepareCases.FromFiles(
            SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz"),
            SharedPaths.Data("totalseg-example", "seg_3mm.nii.gz"));
        string output = Path.Combine(root, name);
        Prepare.Run(cases, new PrepareOptions
        {
            OutputDir = output,
            LabelMap = LabelMap.TotalSegmentator,
            TestCases = ["ct_3mm"],
            TestCasesAlsoTrain = true,
            TrainSize = trainSize,
        });
        return output;
    }

    [Fact]
    public void TrainingSlicesAreTheCubicAndNearestZoomOfTheNativeOnes()
    {
        string native = PrepareInto("native", null);
        string zoomed = PrepareInto("224", 224);
        var names = SynapseLayout.ReadList(Path.Combine(zoomed, "train.txt"));
        Assert.Equal(SynapseLayout.ReadList(Path.Combine(native, "train.txt")), names);
        Assert.Equal(30, names.Count);
        bool anyOrgan = false;
        foreach (string name in names)
        {
            var source = Npz.Read(Path.Combine(native, "train_npz", name + ".npz"));
            var written = Npz.Read(Path.Combine(zoomed, "train_npz_224", name + ".npz"));
            Assert.Equal([101L, 122L], source["image"].Shape);
            Assert.Equal([224L, 224L], written["image"].Shape);
            Assert.Equal([224L, 224L], written["label"].Shape);
            var image = Ndimage.ZoomTo(ToMatrix(source["image"]), 224, 224, order: 3);
            var label = Ndimage.ZoomTo(ToMatrix(source["label"]), 224, 224, order: 0);
            Assert.Equal(Flat(image), written["image"].ToFloat());
            Assert.Equal(Flat(label), written["label"].ToFloat());
            anyOrgan |= written["label"].ToFloat().Any(v => v > 0);
        }
        Assert.True(anyOrgan);
        Assert.False(Directory.Exists(Path.Combine(zoomed, "train_npz")));

        // The test volume is the native one, byte for byte in values.
        var nativeVolume = SynapseH5.Read(Path.Combine(native, "test_vol_h5", "ct_3mm.npy.h5"));
        var testVolume = SynapseH5.Read(Path.Combine(zoomed, "test_vol_h5", "ct_3mm.npy.h5"));
        Assert.Equal([30L, 101L, 122L], testVolume.Image.Shape);
        Assert.Equal(nativeVolume.Image.ToFloat(), testVolume.Image.ToFloat());
        Assert.Equal(nativeVolume.Label.ToFloat(), testVolume.Label.ToFloat());
    }

    [Fact]
    public void TheTrainerReadsThe224Set()
    {
        string zoomed = PrepareInto("224", 224);
        var config = TrainPresets.Smoke with
        {
            SyntheticData = false,
            RootPath = Path.Combine(zoomed, "train_npz_224"),
            ListDir = zoomed,
            VolumePath = Path.Combine(zoomed, "test_vol_h5"),
            MaxSteps = 2,
        };
        var result = Trainer.Train(config, new TrainerOptions
        {
            Output = TextWriter.Null,
            Interactive = false,
            RunDirectory = Path.Combine(root, "run"),
            Evaluate = true,
        });
        Assert.Equal(2, result.Iterations);
        Assert.Equal(4, result.IterationsPerEpoch); // 30 slices in batches of 8
        Assert.All(result.Steps, s => Assert.True(double.IsFinite(s.Loss)));
        var heldOut = Assert.IsType<SAMed.Evaluation.EvaluationReport>(result.HeldOut);
        Assert.Equal("ct_3mm", Assert.Single(heldOut.Cases).Case);
    }

    [Fact]
    public void ANonPositiveSizeIsRefusedBeforeAnythingIsWritten()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PrepareInto("bad", 0));
        Assert.Contains("training slice size", e.Message);
        Assert.False(Directory.Exists(Path.Combine(root, "bad")));
    }

    private static float[,] ToMatrix(NpyArray array)
    {
        var values = array.ToFloat();
        var matrix = new float[array.Shape[0], array.Shape[1]];
        Buffer.BlockCopy(values, 0, matrix, 0, values.Length * sizeof(float));
        return matrix;
    }

    private static float[] Flat(float[,] matrix)
    {
        var flat = new float[matrix.Length];
        Buffer.BlockCopy(matrix, 0, flat, 0, flat.Length * sizeof(float));
        return flat;
    }
}
