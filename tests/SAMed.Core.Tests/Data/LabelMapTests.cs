using System.Text.Json;
using SAMed.Data;
using SAMed.IO;
using SAMed.Tests.Reference;

namespace SAMed.Tests.Data;

public sealed class LabelMapTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("labelmap-tests-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Synapse13FollowsSamedsPreprocessing()
    {
        // preprocess_data.py: hashmap = {1:1, 2:2, 3:3, 4:4, 5:0, 6:5, 7:6, 8:7, 9:0, 10:0, 11:8, 12:0, 13:0}
        int[] expected = [0, 1, 2, 3, 4, 0, 5, 6, 7, 0, 0, 8, 0, 0];
        Assert.Equal(expected, Enumerable.Range(0, 14).Select(LabelMap.Synapse13.Map));
        Assert.Equal(0, LabelMap.Synapse13.Map(20));
        Assert.Throws<KeyNotFoundException>(() => LabelMap.Synapse13.WithUnlisted(UnlistedLabels.Error).Map(14));
        Assert.Equal(8, LabelMap.Synapse13.MaxTarget);
    }

    [Fact]
    public void TotalSegmentatorMapsTheEightOrgans()
    {
        var map = LabelMap.TotalSegmentator;
        Assert.Equal([1, 2, 3, 4, 5, 6, 8], new[] { 1, 2, 3, 4, 5, 6, 7 }.Select(map.Map));
        Assert.Equal(7, map.Map(52));
        Assert.Equal(0, map.Map(0));
        Assert.Equal(0, map.Map(8));
        Assert.Equal(0, map.Map(51));
    }

    [Fact]
    public void IdentityKeepsEveryLabel()
    {
        Assert.Equal([0, 5, 117], new[] { 0, 5, 117 }.Select(LabelMap.Identity.Map));
    }

    [Fact]
    public void OrganNamesAreSamedsClasses()
    {
        Assert.Equal(["spleen", "right kidney", "left kidney", "gallbladder", "liver", "stomach", "aorta", "pancreas"], LabelMap.SynapseOrganNames);
        Assert.Equal("background", LabelMap.ClassName(0));
        Assert.Equal("aorta", LabelMap.ClassName(7));
    }

    [Fact]
    public void MappedExampleSegmentationHasTheReferenceVoxelCounts()
    {
        var seg = Nifti.Read(SharedPaths.Data("totalseg-example", "seg_3mm.nii.gz")).ToDouble();
        var counts = seg.GroupBy(v => LabelMap.TotalSegmentator.Map((int)v)).ToDictionary(g => g.Key, g => (long)g.Count());
        using var json = JsonDocument.Parse(File.ReadAllText(SharedPaths.Reference("prepare", "prepare.json")));
        var expected = json.RootElement.GetProperty("label_voxels").EnumerateObject()
            .ToDictionary(p => int.Parse(p.Name, System.Globalization.CultureInfo.InvariantCulture), p => p.Value.GetInt64());
        Assert.Equal(expected.OrderBy(p => p.Key), counts.OrderBy(p => p.Key));
    }

    [Fact]
    public void JsonMapIsRead()
    {
        string path = Path.Combine(dir, "map.json");
        File.WriteAllText(path, """{"10": 1, "20": 2, "30": 0}""");
        var map = LabelMap.Get(path);
        Assert.Equal([1, 2, 0, 0], new[] { 10, 20, 30, 40 }.Select(map.Map));
        Assert.Equal(UnlistedLabels.Background, map.Unlisted);
        Assert.Throws<KeyNotFoundException>(() => LabelMap.FromJson(path, UnlistedLabels.Error).Map(40));
        Assert.Equal(0, LabelMap.FromJson(path, UnlistedLabels.Error).Map(30));
        Assert.Equal(0, LabelMap.FromJson(path, UnlistedLabels.Error).Map(0));
    }

    [Theory]
    [InlineData("""{"a": 1}""", "not a non-negative integer id")]
    [InlineData("""{"1": -2}""", "must be a non-negative integer")]
    [InlineData("""{"1": 1.5}""", "must be a non-negative integer")]
    [InlineData("""[1, 2]""", "must be a JSON object")]
    [InlineData("""{"1": 1""", "not valid JSON")]
    [InlineData("""{}""", "empty")]
    public void BadJsonMapsAreClearErrors(string text, string problem)
    {
        string path = Path.Combine(dir, "bad.json");
        File.WriteAllText(path, text);
        var error = Assert.Throws<InvalidDataException>(() => LabelMap.FromJson(path));
        Assert.Contains(path, error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void UnknownMapNameIsAClearError()
    {
        var error = Assert.Throws<FileNotFoundException>(() => LabelMap.Get("no-such-map"));
        Assert.Contains("no-such-map", error.Message);
        Assert.Contains("synapse13", error.Message);
    }
}
