using System.Text.RegularExpressions;
using SAMed.Data;
using SAMed.Evaluation;
using SAMed.Inference;
using SAMed.IO;
using SAMed.Tests.Reference;
using SAMed.Training;
using SAMed.VolumeTesting;

namespace SAMed.Tests.Training;

/// <summary>
/// docs/own-data.md, step by step through the library calls behind its commands, on generated RGB pictures: a folder
/// of images and masks is prepared, trained on with the guide's configuration (shortened to a few steps), tested,
/// predicted and scored.
/// </summary>
[Collection(TorchRngCollection.Name)]
public sealed partial class OwnDataWalkTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("own-data-walk-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static string Guide => File.ReadAllText(Path.Combine(SharedPaths.RepositoryRoot, "docs", "own-data.md"));

    [Fact]
    public void FromAFolderOfImagesAndMasksToPredictionsAndScores()
    {
        // 1. The user's folders: images/ and masks/ of the same names (here generated).
        string raw = Path.Combine(root, "raw");
        var names = SyntheticImages.Write(raw, count: 10, size: 80, numClasses: 2, colour: true, seed: 7);
        Assert.Equal(3, ImageFile.Read(Path.Combine(raw, "images", names[0] + ".png")).Channels);

        // 2. prepare --images raw/images --masks raw/masks --output data --test-fraction 0.2 --train-size 224
        string data = Path.Combine(root, "data");
        var summary = Prepare.Run(ImageCases.FromFolders(Path.Combine(raw, "images"), Path.Combine(raw, "masks")), new PrepareOptions
        {
            OutputDir = data,
            LabelMap = LabelMap.Identity,
            TestFraction = 0.2,
            Seed = 1234,
            TrainSize = 224,
        });
        Assert.Equal((8, 2), (summary.TrainSlices, summary.TestCases));
        string firstTrain = summary.Cases.First(c => c.Train).Name;
        Assert.Equal([224L, 224L, 3L], Npz.Read(Path.Combine(data, "train_npz_224", firstTrain + ".npz"))["image"].Shape);

        // 3. train --config own.json (the guide's configuration), cut to a few steps.
        var config = TrainConfigFile.Parse(GuideConfig(), "docs/own-data.md") with
        {
            RootPath = Path.Combine(data, "train_npz_224"),
            ListDir = data,
            VolumePath = Path.Combine(data, "test_vol_h5"),
            MaxSteps = 4,
        };
        Assert.Equal(("tiny", 64, 2), (config.VitName, config.ImgSize, config.NumClasses));
        var trained = Trainer.Train(config, new TrainerOptions
        {
            Output = TextWriter.Null,
            Interactive = false,
            RunDirectory = Path.Combine(root, "run"),
            Evaluate = true,
        });
        Assert.Equal(4, trained.Iterations);
        Assert.All(trained.Steps, s => Assert.True(double.IsFinite(s.Loss)));
        var heldOut = Assert.IsType<EvaluationReport>(trained.HeldOut);
        Assert.Equal(summary.Cases.Where(c => c.Test).Select(c => c.Name), heldOut.Cases.Select(c => c.Case));

        // 4. test / predict / score with the run's config.json and LoRA checkpoint.
        using var model = SegmentationModel.Load(new ModelLoadOptions
        {
            ConfigPath = Path.Combine(trained.RunDirectory, Trainer.ConfigFile),
            LoraCheckpoint = trained.LoraCheckpoint,
        });
        var segmenter = new SamedSliceSegmenter(model);
        var tested = new VolumeTester(segmenter, new VolumeTestOptions { NumClasses = 2 })
            .Run(VolumeTestSource.FromSynapse(new SynapseLayout(data)));
        Assert.Equal(heldOut.Cases.Select(c => c.Case), tested.Cases.Select(c => c.Case));

        string predictions = Path.Combine(root, "predictions");
        var predicted = new ImagePredictor(segmenter).Predict(ImagePredictor.Jobs(Path.Combine(raw, "images"), predictions), Path.Combine(root, "overlays"));
        Assert.Equal(names.Count, predicted.Count);
        Assert.All(predicted, p => Assert.Equal((80, 80), (p.Height, p.Width)));
        Assert.Equal(names.Count, Directory.GetFiles(Path.Combine(root, "overlays"), "*_overlay.png").Length);

        var scored = LabelMapScorer.Score(ScorePair.Match(predictions, Path.Combine(raw, "masks")), numClasses: 2, useSpacing: false);
        Assert.Equal(names, scored.Cases.Select(c => c.Case));
        // The test of the prepared test set and the score of the written PNGs agree image for image.
        foreach (var c in tested.Cases)
            Assert.Equal(c.Classes, scored.Cases.Single(s => s.Case == c.Case).Classes);
    }

    [Fact]
    public void TheGuideNamesOnlyCommandsAndOptionsThatExist()
    {
        var commands = CommandLine().Matches(Guide).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Superset(new HashSet<string> { "synth", "prepare", "train", "test", "predict", "score" }, commands);
        Assert.Contains("--train-size 224", Guide);
    }

    private static string GuideConfig() => JsonBlock().Match(Guide) is { Success: true } m
        ? m.Groups[1].Value
        : throw new InvalidDataException("docs/own-data.md has no ```json block");

    [GeneratedRegex(@"```json\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex JsonBlock();

    [GeneratedRegex(@"samed (\w+) ")]
    private static partial Regex CommandLine();
}
