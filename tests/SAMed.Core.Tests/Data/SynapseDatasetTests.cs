using SAMed.Data;
using SAMed.IO;
using SAMed.Tests.Reference;

namespace SAMed.Tests.Data;

public class SynapseDatasetTests
{
    private static readonly RandomGenerator Transform = new(16, 4);

    [Fact]
    public void ReadsListedSlicesAndReturnsTransformedSamples()
    {
        using var slices = new SyntheticSlices(3);
        var dataset = new SynapseDataset(slices.DataDirectory, slices.ListFile, Transform);
        Assert.Equal(3, dataset.Count);
        Assert.Equal(slices.Names, dataset.Names);
        var sample = dataset.Get(1, random: null);
        Assert.Equal(slices.Names[1], sample.CaseName);
        Assert.Equal(16, sample.Height);
        Assert.Equal(16, sample.Width);
        Assert.Equal(4, sample.LowResLabel.GetLength(0));

        var (image, label) = dataset.ReadSlice(1);
        var expected = Transform.Resize(image, label, slices.Names[1]);
        Assert.Equal(expected.Image, sample.Image);
        Assert.Equal(expected.Label, sample.Label);
    }

    [Fact]
    public void FromRootUsesTrainNpzAndListFileLinesAreTrimmed()
    {
        using var slices = new SyntheticSlices(2);
        File.WriteAllText(slices.ListFile, $"{slices.Names[0]}\r\n\n  {slices.Names[1]}  \n");
        var dataset = SynapseDataset.FromRoot(slices.Root, slices.ListFile, Transform);
        Assert.Equal(slices.Names, dataset.Names);
    }

    [Fact]
    public void ReadsLazilyUnlessPreloadIsAsked()
    {
        using var slices = new SyntheticSlices(3);
        File.Delete(slices.PathOf(slices.Names[2]));
        var lazy = new SynapseDataset(slices.DataDirectory, slices.ListFile, Transform);
        lazy.Get(0, null);
        var error = Assert.Throws<FileNotFoundException>(() => lazy.Get(2, null));
        Assert.Contains(slices.PathOf(slices.Names[2]), error.Message);

        var preloadError = Assert.Throws<FileNotFoundException>(() =>
            new SynapseDataset(slices.DataDirectory, slices.ListFile, Transform, new SynapseDatasetOptions(Preload: true)));
        Assert.Contains(slices.Names[2], preloadError.Message);
    }

    [Fact]
    public void PreloadedSamplesEqualLazyOnes()
    {
        using var slices = new SyntheticSlices(2);
        var lazy = new SynapseDataset(slices.DataDirectory, slices.ListFile, Transform);
        var preloaded = new SynapseDataset(slices.DataDirectory, slices.ListFile, Transform, new SynapseDatasetOptions(Preload: true));
        File.Delete(slices.PathOf(slices.Names[0]));
        var random = DataLoaderRandom.Derive(3, 1);
        Assert.Equal(preloaded.Get(1, random).Image, lazy.Get(1, DataLoaderRandom.Derive(3, 1)).Image);
        Assert.Equal(slices.Names[0], preloaded.Get(0, null).CaseName);
    }

    [Fact]
    public void BadSlicesFailNamingTheFileAndTheProblem()
    {
        using var slices = new SyntheticSlices(5);
        var (image, label) = SyntheticSlices.Slice(0, 20, 24, 8);

        var nan = (float[])image.Clone();
        nan[7] = float.NaN;
        slices.Write(slices.Names[0], NpyArray.FromFloat32(nan, 20, 24), NpyArray.FromFloat32(label, 20, 24));
        var outOfRange = (float[])label.Clone();
        outOfRange[3] = 12;
        slices.Write(slices.Names[1], NpyArray.FromFloat32(image, 20, 24), NpyArray.FromFloat32(outOfRange, 20, 24));
        slices.Write(slices.Names[2], NpyArray.FromFloat32(image, 20, 24), NpyArray.FromFloat32(label, 24, 20));
        Npz.Write(slices.PathOf(slices.Names[3]), [new("image", NpyArray.FromFloat32(image, 20, 24))]);
        File.WriteAllBytes(slices.PathOf(slices.Names[4]), [1, 2, 3]);

        var dataset = new SynapseDataset(slices.DataDirectory, slices.ListFile, Transform, new SynapseDatasetOptions(NumClasses: 8));
        string[] problems = ["non-finite", "label value 12", "differ in shape", "'label'", "not a readable .npz"];
        for (int i = 0; i < problems.Length; i++)
        {
            var error = Assert.ThrowsAny<Exception>(() => dataset.Get(i, null));
            Assert.Contains(slices.PathOf(slices.Names[i]), error.Message);
            Assert.Contains(problems[i], error.Message);
        }
    }

    [Fact]
    public void MissingListFileOrDirectoryIsNamed()
    {
        using var slices = new SyntheticSlices(1);
        string missingList = Path.Combine(slices.Root, "nope.txt");
        Assert.Contains(missingList, Assert.Throws<FileNotFoundException>(
            () => new SynapseDataset(slices.DataDirectory, missingList, Transform)).Message);
        string missingDir = Path.Combine(slices.Root, "nodir");
        Assert.Contains(missingDir, Assert.Throws<DirectoryNotFoundException>(
            () => new SynapseDataset(missingDir, slices.ListFile, Transform)).Message);
    }

    [Fact]
    public void ReadsTheReferencePreparedSlicesWrittenByNumPy()
    {
        string root = SharedPaths.Reference("prepare");
        var dataset = SynapseDataset.FromRoot(root, Path.Combine(root, "train.txt"), new RandomGenerator(224, 56),
            new SynapseDatasetOptions(NumClasses: 8));
        Assert.True(dataset.Count > 0);
        var sample = dataset.Get(dataset.Count / 2, DataLoaderRandom.Derive(0, 0));
        Assert.Equal(224, sample.Height);
        Assert.All(sample.Label.Cast<long>(), v => Assert.InRange(v, 0, 8));
    }
}
