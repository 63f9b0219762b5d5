using SAMed.IO;
using SAMed.Train.Cli;
using TorchSharp;

namespace SAMed.Train.Tests;

/// <summary>Commands run in process on tiny data: what they find, write and say.</summary>
public sealed class CommandTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    private static readonly NiftiHeader Geometry = new()
    {
        PixDim = [1, 0.8f, 0.8f, 2.5f, 1, 1, 1, 1],
        SformCode = 1,
        SRowX = [0.8f, 0, 0, 0],
        SRowY = [0, 0.8f, 0, 0],
        SRowZ = [0, 0, 2.5f, 0],
        XyztUnits = 10,
    };

    private void WritePair(string name, Func<int, double> label, int[]? shape = null)
    {
        shape ??= [8, 8, 2];
        int count = shape.Aggregate(1, (a, b) => a * b);
        Directory.CreateDirectory(temp["images"]);
        Directory.CreateDirectory(temp["labels"]);
        Nifti.Write(Path.Combine(temp["images"], name + ".nii.gz"),
            NiftiImage.Create(Geometry, shape, NiftiDataType.Float32, Enumerable.Range(0, count).Select(i => (double)(i % 300)).ToArray()));
        Nifti.Write(Path.Combine(temp["labels"], name + ".nii.gz"),
            NiftiImage.Create(Geometry, shape, NiftiDataType.Int16, Enumerable.Range(0, count).Select(label).ToArray()));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("export")]
    [InlineData("test")]
    [InlineData("predict")]
    public void ANegativeThreadCountIsOneLineAndBadInputWhereverThreadsIsAccepted(string command)
    {
        // What follows --threads would run (or fail later for another reason) if --threads -1 were let through.
        string[] rest = command switch
        {
            "doctor" => ["--no-bench", "--reference", temp["missing"]],
            "export" => ["--model", "tiny", "--img-size", "32", "-o", temp["tiny.pth"]],
            "test" => ["--volume-path", temp["missing"]],
            _ => ["-i", temp["missing.nii.gz"], "-o", temp["out.nii.gz"]],
        };
        int before = torch.get_num_threads();
        Samed.Run([command, "--threads", "-1", .. rest]).AssertFails(ExitCodes.BadInput, $"samed {command}: --threads -1 must not be negative");
        Assert.Equal(before, torch.get_num_threads());
        Assert.False(File.Exists(temp["tiny.pth"]));
    }

    [Fact]
    public void PrepareRefusesTotalSegmentatorLabelsWithTheSynapseMapAndNamesTheRightOne()
    {
        WritePair("s0011", i => new[] { 0, 5, 6, 52, 90 }[i % 5]);
        Samed.Run("prepare", "--images", temp["images"], "--labels", temp["labels"], "-o", temp["data"])
            .AssertFails(ExitCodes.BadInput, "samed prepare:", "s0011.nii.gz", "not in label map 'synapse13'", "--label-map totalseg");
        Assert.False(Directory.Exists(temp["data/train_npz"]) && Directory.EnumerateFiles(temp["data/train_npz"]).Any());

        var run = Samed.Run("prepare", "--images", temp["images"], "--labels", temp["labels"], "-o", temp["data"], "--label-map", "totalseg").AssertSucceeds();
        Assert.Contains("s0011 <- s0011.nii.gz", run.Output, StringComparison.Ordinal);
        var table = File.ReadAllLines(temp["data/cases.tsv"]);
        Assert.Equal("case\trole\timage\tlabel", table[0]);
        Assert.StartsWith("s0011\ttrain\t", table[1], StringComparison.Ordinal);
        Assert.True(File.Exists(temp["data/train_npz/s0011_slice000.npz"]));
    }

    [Fact]
    public void PrepareSetsAFewStrayVoxelsToBackgroundWhenAsked()
    {
        WritePair("a", i => i == 3 ? 40 : 1);
        Samed.Run("prepare", "--images", temp["images"], "--labels", temp["labels"], "-o", temp["data"]).AssertFails(ExitCodes.BadInput, "40");
        var run = Samed.Run("prepare", "--images", temp["images"], "--labels", temp["labels"], "-o", temp["data"], "--unlisted-labels", "background")
            .AssertSucceeds();
        Assert.Contains("40 (1 voxels)", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void TestFindsTheListOrTakesEveryVolume()
    {
        Samed.Run("synth", "-o", temp["data"], "--size", "32", "--train-count", "0", "--test-count", "2", "--min-slices", "3", "--max-slices", "3")
            .AssertSucceeds();
        string[] model = ["--model", "tiny", "--img-size", "32", "--input-size", "32", "--num-classes", "8"];
        var listed = Samed.Run(["test", "--volume-path", temp["data/test_vol_h5"], "-o", temp["out1"], .. model]).AssertSucceeds();
        Assert.Contains($"test volumes: {temp["data/test_vol.txt"]}", listed.Output, StringComparison.Ordinal);
        Assert.Contains("case0001", File.ReadAllText(temp["out1/metrics.csv"]), StringComparison.Ordinal);

        File.Delete(temp["data/test_vol.txt"]);
        var all = Samed.Run(["test", "--volume_path", temp["data/test_vol_h5"], "--output_dir", temp["out2"], "--absent", "nan", .. model]).AssertSucceeds();
        Assert.Contains("every .npy.h5", all.Output, StringComparison.Ordinal);
        Assert.Equal(2, File.ReadAllLines(temp["out2/metrics.csv"]).Count(l => l.StartsWith("case_mean", StringComparison.Ordinal)));

        Samed.Run(["test", "--volume-path", temp["data"], "--list-dir", temp["lists"], .. model])
            .AssertFails(ExitCodes.BadInput, temp["lists"], "does not exist");
    }

    [Fact]
    public void TestTakesSamedsDefaultCheckpointsAndItsModuleAndDatasetSwitches()
    {
        Samed.Run("synth", "-o", temp["data"], "--size", "32", "--train-count", "0", "--test-count", "1", "--min-slices", "2", "--max-slices", "2")
            .AssertSucceeds();
        Directory.CreateDirectory(temp["work/checkpoints"]);
        File.WriteAllText(temp["work/checkpoints/sam_vit_b_01ec64.pth"], "not a checkpoint");
        File.WriteAllText(temp["work/checkpoints/epoch_159.pth"], "not a checkpoint");
        string before = Environment.CurrentDirectory;
        try
        {
            Environment.CurrentDirectory = temp["work"];
            // SAMed's test.py command line without --ckpt/--lora_ckpt: its default files are what gets read.
            var run = Samed.Run("test", "--volume_path", temp["data"], "--output_dir", temp["out"], "--module", "sam_lora_image_encoder", "--dataset", "Synapse")
                .AssertFails(ExitCodes.BadInput, "checkpoints/");
            Assert.Contains("SAMed's defaults checkpoints/sam_vit_b_01ec64.pth and checkpoints/epoch_159.pth", run.Output, StringComparison.Ordinal);
        }
        finally
        {
            Environment.CurrentDirectory = before;
        }
        Samed.Run("test", "--volume-path", temp["data"], "--module", "sam_lora_image_encoder_mask_decoder")
            .AssertFails(ExitCodes.BadInput, "--module sam_lora_image_encoder_mask_decoder is not supported", "--strategy");
        Samed.Run("train", "--dataset", "ACDC", "--max-steps", "1").AssertFails(ExitCodes.BadInput, "--dataset ACDC is not supported", "samed prepare");
    }

    [Fact]
    public void ScoreTakesSpacingLabelMapAndTheAbsentRule()
    {
        // Reference in raw Synapse ids (6 = liver -> class 5); the prediction finds the liver and a spleen that is not there.
        WritePair("case0001", i => i < 64 ? 6 : 0);
        Directory.CreateDirectory(temp["pred"]);
        Nifti.Write(temp["pred/case0001.nii.gz"], NiftiImage.Create(Geometry, [8, 8, 2], NiftiDataType.UInt8,
            Enumerable.Range(0, 128).Select(i => i < 64 ? 5.0 : i < 70 ? 1 : 0).ToArray()));

        var samed = Samed.Run("score", temp["pred"], temp["labels"], "--label-map", "synapse13", "--spacing", "-o", temp["s1"]).AssertSucceeds();
        Assert.Contains("HD95 in mm", samed.Output, StringComparison.Ordinal);
        var rows = File.ReadAllLines(temp["s1/scores.csv"]);
        Assert.Contains(rows, r => r.StartsWith("case_class,case0001,1,spleen,1,0,mm", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.StartsWith("case_class,case0001,5,liver,1,0,mm", StringComparison.Ordinal));
        Assert.True(File.Exists(temp["s1/report.txt"]));

        Samed.Run("score", temp["pred"], temp["labels"], "--label-map", "synapse13", "--spacing", "0.8,0.8,2.5", "--absent", "nan", "-o", temp["s2"])
            .AssertSucceeds();
        rows = File.ReadAllLines(temp["s2/scores.csv"]);
        Assert.Contains(rows, r => r.StartsWith("case_class,case0001,1,spleen,NaN,NaN,mm", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.StartsWith("case_mean,case0001,,,1,0,mm", StringComparison.Ordinal));

        Samed.Run("score", temp["pred"], temp["labels"], "--spacing", "1,2").AssertFails(ExitCodes.BadInput, "--spacing '1,2'");
    }
}
