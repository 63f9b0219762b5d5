using SAMed.Data;

namespace SAMed.Tests.Data;

public sealed class PrepareCasesTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("prepare-cases-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Touch(string folder, string name)
    {
        string path = Path.Combine(dir, folder, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, []);
        return path;
    }

    [Fact]
    public void SynapseFoldersPairByNumberAndKeepSamedsCaseNumbers()
    {
        foreach (string n in new[] { "0001", "0002", "0022" })
        {
            Touch("img", $"img{n}.nii.gz");
            Touch("label", $"label{n}.nii.gz");
        }
        var cases = PrepareCases.FromFolders(Path.Combine(dir, "img"), Path.Combine(dir, "label"));
        Assert.Equal(["case0001", "case0002", "case0022"], cases.Select(c => c.Name));
        Assert.EndsWith("label0022.nii.gz", cases[2].LabelPath, StringComparison.Ordinal);
    }

    [Fact]
    public void NnUnetFoldersPairByNameAndKeepTheFileNamesAsCaseNames()
    {
        Touch("imagesTr", "liver_7_0000.nii.gz");
        Touch("imagesTr", "liver_3_0000.nii.gz");
        Touch("labelsTr", "liver_3.nii.gz");
        Touch("labelsTr", "liver_7.nii.gz");
        var cases = PrepareCases.FromFolders(Path.Combine(dir, "imagesTr"), Path.Combine(dir, "labelsTr"));
        Assert.Equal(["liver_3", "liver_7"], cases.Select(c => c.Name));
        Assert.EndsWith("liver_3.nii.gz", cases[0].LabelPath, StringComparison.Ordinal);
        Assert.EndsWith("liver_7.nii.gz", cases[1].LabelPath, StringComparison.Ordinal);
    }

    [Fact]
    public void FileNamesThatAreNoUsableCaseNamesGiveNumberedCases()
    {
        Touch("images", "ct 1.nii.gz");
        Touch("images", "ct_2.nii.gz");
        Touch("labels", "ct 1.nii.gz");
        Touch("labels", "ct_2.nii.gz");
        var cases = PrepareCases.FromFolders(Path.Combine(dir, "images"), Path.Combine(dir, "labels"));
        Assert.Equal(["case0001", "case0002"], cases.Select(c => c.Name));
        Assert.Equal("case0007", PrepareCases.KeptName("/x/0007.nii"));
        Assert.Equal("s0011.ct", PrepareCases.KeptName("/x/s0011.ct.nii.gz"));
        Assert.Null(PrepareCases.KeptName("/x/-a.nii"));
    }

    [Fact]
    public void ImageWithoutLabelIsAClearError()
    {
        string image = Touch("images", "ct_a.nii");
        Touch("labels", "ct_b.nii");
        var error = Assert.Throws<InvalidDataException>(() => PrepareCases.FromFolders(Path.Combine(dir, "images"), Path.Combine(dir, "labels")));
        Assert.Contains(image, error.Message);
        Assert.Throws<DirectoryNotFoundException>(() => PrepareCases.FromFolders(Path.Combine(dir, "nope"), Path.Combine(dir, "labels")));
    }

    [Fact]
    public void ListFileGivesPairsRelativeToItselfWithOptionalNames()
    {
        string list = Path.Combine(dir, "pairs.txt");
        File.WriteAllText(list, "# image\tlabel\na.nii.gz\tsa.nii.gz\n\nsub/b.nii\tsb.nii\tcase0040\n");
        var cases = PrepareCases.FromListFile(list);
        Assert.Equal(["a", "case0040"], cases.Select(c => c.Name));
        Assert.Equal(Path.Combine(dir, "sub", "b.nii"), cases[1].ImagePath);

        File.WriteAllText(list, "a.nii.gz sa.nii.gz\n");
        var error = Assert.Throws<InvalidDataException>(() => PrepareCases.FromListFile(list));
        Assert.Contains(list + ":1", error.Message);
    }

    [Fact]
    public void DuplicateCaseNamesAreRefused()
    {
        string list = Path.Combine(dir, "pairs.txt");
        File.WriteAllText(list, "a.nii\tsa.nii\tcase0001\nb.nii\tsb.nii\tcase0001\n");
        Assert.Contains("case0001", Assert.Throws<InvalidDataException>(() => PrepareCases.FromListFile(list)).Message);
    }

    private static List<PrepareCase> Cases(int count) =>
        Enumerable.Range(1, count).Select(i => new PrepareCase(PrepareCases.CaseName(i), $"i{i}", $"l{i}")).ToList();

    [Fact]
    public void SplitByNamesNumbersAndTheSynapsePreset()
    {
        var options = new PrepareOptions { OutputDir = dir, TestCases = ["case0002", "4"] };
        var split = PrepareSplit.Make(Cases(5), options);
        Assert.Equal(["case0002", "case0004"], split.Test.Select(c => c.Name));
        Assert.Equal(["case0001", "case0003", "case0005"], split.Train.Select(c => c.Name));

        split = PrepareSplit.Make(Cases(5), options with { TestCasesAlsoTrain = true });
        Assert.Equal(5, split.Train.Count);

        split = PrepareSplit.Make(Cases(40), options with { TestCases = ["synapse"] });
        Assert.Equal([1, 2, 3, 4, 8, 22, 25, 29, 32, 35, 36, 38], split.Test.Select(c => int.Parse(c.Name[4..], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(28, split.Train.Count);

        var error = Assert.Throws<ArgumentException>(() => PrepareSplit.Make(Cases(3), options with { TestCases = ["case0009"] }));
        Assert.Contains("case0009", error.Message);
    }

    [Fact]
    public void SplitByFractionIsSeededAndDisjoint()
    {
        var options = new PrepareOptions { OutputDir = dir, TestFraction = 0.25, Seed = 7 };
        var first = PrepareSplit.Make(Cases(20), options);
        var again = PrepareSplit.Make(Cases(20), options);
        Assert.Equal(5, first.Test.Count);
        Assert.Equal(first.Test, again.Test);
        Assert.Empty(first.Test.Intersect(first.Train));
        Assert.Equal(20, first.Test.Count + first.Train.Count);
        var other = Enumerable.Range(1, 10).Select(seed => PrepareSplit.Make(Cases(20), options with { Seed = seed }).Test.Select(c => c.Name));
        Assert.Contains(other, names => !names.SequenceEqual(first.Test.Select(c => c.Name)));
        Assert.Single(PrepareSplit.Make(Cases(3), options with { TestFraction = 0.01 }).Test);
        Assert.Throws<ArgumentException>(() => PrepareSplit.Make(Cases(3), options with { TestCases = ["1"] }));
    }
}
