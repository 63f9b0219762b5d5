using SAMed.Data;
using SAMed.Tests.Reference;

namespace SAMed.Tests.Data;

public sealed class SynapseLayoutTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("synapse-layout-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void PathsFollowSamedLayout()
    {
        var layout = new SynapseLayout("/data/Synapse", "/lists/lists_Synapse");
        Assert.Equal("/data/Synapse/train_npz/case0005_slice012.npz", layout.TrainSlicePath("case0005_slice012"));
        Assert.Equal("/data/Synapse/test_vol_h5/case0001.npy.h5", layout.TestVolumePath("case0001"));
        Assert.Equal("/lists/lists_Synapse/train.txt", layout.TrainListPath);
        Assert.Equal("/lists/lists_Synapse/test_vol.txt", layout.TestListPath);
        Assert.Equal("/data/Synapse/train.txt", new SynapseLayout("/data/Synapse").TrainListPath);
    }

    [Fact]
    public void SamedArgumentsGiveTheSameLayout()
    {
        var layout = SynapseLayout.FromSamedPaths("/data/Synapse/train_npz/", "/lists/lists_Synapse");
        Assert.Equal("/data/Synapse/train_npz/case0005_slice012.npz", layout.TrainSlicePath("case0005_slice012"));
        Assert.Equal("/data/Synapse/test_vol_h5/case0001.npy.h5", layout.TestVolumePath("case0001"));
        Assert.Equal("/lists/lists_Synapse/test_vol.txt", layout.TestListPath);
        Assert.Equal(new SynapseLayout("/data/Synapse", "/lists/lists_Synapse"), layout);

        var apart = SynapseLayout.FromSamedPaths("/a/slices", "/lists", "/b/volumes");
        Assert.Equal("/a/slices/x.npz", apart.TrainSlicePath("x"));
        Assert.Equal("/b/volumes/y.npy.h5", apart.TestVolumePath("y"));
    }

    [Fact]
    public void ReferenceListsNameExistingFiles()
    {
        var layout = new SynapseLayout(SharedPaths.Reference("prepare"));
        var train = layout.ReadTrainNames();
        var test = layout.ReadTestNames();
        Assert.NotEmpty(train);
        Assert.NotEmpty(test);
        Assert.All(train, name => Assert.True(File.Exists(layout.TrainSlicePath(name)), name));
        Assert.All(test, name => Assert.True(File.Exists(layout.TestVolumePath(name)), name));
    }

    [Fact]
    public void ReadListTrimsAndSkipsBlankLines()
    {
        string path = Path.Combine(_dir, "train.txt");
        File.WriteAllText(path, "  a \r\n\nb\n   \nc");
        Assert.Equal(["a", "b", "c"], SynapseLayout.ReadList(path));
    }

    [Fact]
    public void WriteListRoundTripsWithTrailingNewline()
    {
        string path = Path.Combine(_dir, "sub", "test_vol.txt");
        SynapseLayout.WriteList(path, ["case0001", "case0002"]);
        Assert.Equal("case0001\ncase0002\n", File.ReadAllText(path));
        Assert.Equal(["case0001", "case0002"], SynapseLayout.ReadList(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void EmptyListIsAnErrorNamingTheFile()
    {
        string path = Path.Combine(_dir, "train.txt");
        File.WriteAllText(path, "\n  \n");
        var error = Assert.Throws<InvalidDataException>(() => SynapseLayout.ReadList(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("empty", error.Message);
    }

    [Fact]
    public void MissingListIsAnErrorNamingTheFile()
    {
        string path = Path.Combine(_dir, "absent.txt");
        var error = Assert.Throws<FileNotFoundException>(() => SynapseLayout.ReadList(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void WriteListRejectsBadNames()
    {
        string path = Path.Combine(_dir, "bad.txt");
        Assert.Throws<ArgumentException>(() => SynapseLayout.WriteList(path, ["ok", ""]));
        Assert.Throws<ArgumentException>(() => SynapseLayout.WriteList(path, ["a\nb"]));
        Assert.Throws<ArgumentException>(() => SynapseLayout.WriteList(path, []));
        Assert.False(File.Exists(path));
    }
}
