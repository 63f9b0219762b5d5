using SAMed.Data;
using SAMed.VolumeTesting;

namespace SAMed.Tests.VolumeTesting;

/// <summary>Where test volumes and their list are found from SAMed's --volume_path and --list_dir.</summary>
public sealed class VolumeTestSourceTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("volume-source-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string Volumes(params string[] names)
    {
        string dir = Path.Combine(root, SynapseLayout.TestDirName);
        Directory.CreateDirectory(dir);
        foreach (string name in names)
            File.WriteAllBytes(Path.Combine(dir, name + ".npy.h5"), []);
        return dir;
    }

    [Fact]
    public void TheListIsFoundInTheDataRootWherePrepareWritesIt()
    {
        string dir = Volumes("case0002", "case0001", "case0003");
        File.WriteAllText(Path.Combine(root, SynapseLayout.TestListName), "case0003\ncase0001\n");
        foreach (string path in new[] { root, dir })
        {
            var items = VolumeTestSource.FromVolumePath(path, null, out string source);
            Assert.Equal(["case0003", "case0001"], items.Select(i => i.Name));
            Assert.Equal(Path.Combine(root, SynapseLayout.TestListName), Path.GetFullPath(source));
        }
    }

    [Fact]
    public void SamedsListsFolderBesideTheDataIsFound()
    {
        Volumes("case0001", "case0002");
        string lists = Path.Combine(root, "lists", "lists_Synapse");
        Directory.CreateDirectory(lists);
        File.WriteAllText(Path.Combine(lists, SynapseLayout.TestListName), "case0002\n");
        Assert.Equal(["case0002"], VolumeTestSource.FromVolumePath(root, null, out _).Select(i => i.Name));
    }

    [Fact]
    public void WithoutAListEveryVolumeOfTheFolderIsTested()
    {
        string dir = Volumes("b.ct", "a", "case0010");
        var items = VolumeTestSource.FromVolumePath(dir, null, out string source);
        Assert.Equal(["a", "b.ct", "case0010"], items.Select(i => i.Name));
        Assert.Contains("every .npy.h5", source);
    }

    [Fact]
    public void MissingPathsAreNamedAsSuch()
    {
        string missing = Path.Combine(root, "nowhere");
        var error = Assert.Throws<DirectoryNotFoundException>(() => VolumeTestSource.FromVolumePath(missing, null, out _));
        Assert.Equal($"{missing}: test volume folder does not exist", error.Message);

        string dir = Volumes("a");
        error = Assert.Throws<DirectoryNotFoundException>(() => VolumeTestSource.FromVolumePath(dir, missing, out _));
        Assert.Contains("list folder does not exist", error.Message);

        Assert.Throws<FileNotFoundException>(() => VolumeTestSource.FromVolumePath(dir, root, out _));
        File.Delete(Path.Combine(dir, "a.npy.h5"));
        Assert.Contains("no NAME.npy.h5", Assert.Throws<FileNotFoundException>(() => VolumeTestSource.FromVolumePath(dir, null, out _)).Message);
    }
}
