using SAMed.Checkpoints;
using SAMed.Diagnostics;
using SAMed.Tests.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Checkpoints;

public sealed class PthStateDictTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("samed-pth-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Theory]
    [Trait("Category", "Parity")]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void ReadsEveryReferenceStateDict(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        foreach (string path in new[] { reference.SamCheckpointPath, reference.LoraCheckpointPath, reference.GradsPath, reference.AfterStepsPath })
        {
            var tensors = PthStateDict.Read(path);
            try
            {
                Assert.NotEmpty(tensors);
                Assert.All(tensors.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
                Assert.All(tensors.Values, t => Assert.False(t.requires_grad));
            }
            finally
            {
                foreach (var t in tensors.Values)
                    t.Dispose();
            }
        }
    }

    [Theory]
    [Trait("Category", "Parity")]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void ReadsLoraMatricesPickledAsParameters(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        var tensors = PthStateDict.Read(reference.LoraCheckpointPath);
        try
        {
            int dim = reference.Model.EncoderEmbedDim;
            for (int i = 0; i < 2 * reference.Model.EncoderDepth; i++)
            {
                Assert.Equal([reference.LoraRank, dim], tensors[$"w_a_{i:D3}"].shape);
                Assert.Equal([dim, reference.LoraRank], tensors[$"w_b_{i:D3}"].shape);
            }
            Assert.Equal("w_a_000", tensors.Keys.First());
            Assert.True(tensors["w_a_000"].abs().sum().item<float>() > 0);
        }
        finally
        {
            foreach (var t in tensors.Values)
                t.Dispose();
        }
    }

    private static string Fixture(string name) =>
        Path.Combine(SharedPaths.RepositoryRoot, "tests", "SAMed.Core.Tests", "Checkpoints", "Fixtures", name);

    [Fact]
    public void ReadsParametersViewsAndDtypesSavedByTorch()
    {
        // Fixtures/torch_saved.pth: torch.save of an OrderedDict (torch 1.13) holding an nn.Parameter, a transposed
        // view and a slice of one shared storage, and int64, float16, 0-d, bool and float64 tensors.
        using var scope = torch.NewDisposeScope();
        var tensors = PthStateDict.Read(Fixture("torch_saved.pth"));
        Assert.Equal(["param", "view_t", "view_slice", "long", "half", "scalar", "bool", "double"], tensors.Keys);
        var baseGrid = torch.arange(24, dtype: ScalarType.Float32).reshape(4, 6);
        Assert.True(Identical(torch.arange(15, dtype: ScalarType.Float32).reshape(3, 5) / 8, tensors["param"]));
        Assert.False(tensors["param"].requires_grad);
        Assert.True(Identical(baseGrid.t().contiguous(), tensors["view_t"]));
        Assert.True(Identical(baseGrid[1..3, 2..5].contiguous(), tensors["view_slice"]));
        Assert.True(Identical(torch.arange(7, dtype: ScalarType.Int64) - 3, tensors["long"]));
        Assert.True(Identical(torch.tensor(new float[] { 0.5f, -1.25f, 2, 3 }).to_type(ScalarType.Float16), tensors["half"]));
        Assert.True(Identical(torch.tensor(3.5f), tensors["scalar"]));
        Assert.True(Identical(torch.tensor(new[] { true, false, true }), tensors["bool"]));
        Assert.True(Identical(torch.arange(3, dtype: ScalarType.Float64) / 4, tensors["double"]));

        // Views come back as independent tensors.
        tensors["view_t"].add_(1);
        Assert.True(Identical(baseGrid[1..3, 2..5].contiguous(), tensors["view_slice"]));
    }

    [Fact]
    public void WholePickledModuleIsAClearError()
    {
        string path = Fixture("whole_module.pth");
        var error = Assert.Throws<InvalidDataException>(() => PthStateDict.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("torch.nn.modules", error.Message);
    }

    [Fact]
    public void RoundTripKeepsOrderShapesTypesAndValues()
    {
        using var scope = torch.NewDisposeScope();
        var original = new List<KeyValuePair<string, Tensor>>
        {
            new("b.weight", torch.randn(3, 4)),
            new("a.bias", torch.arange(5, dtype: ScalarType.Int64)),
            new("scalar", torch.tensor(2.5)),
            new("empty", torch.zeros(0, 7)),
            new("strided", torch.randn(4, 6).t()),
            new("big", torch.randn(300, 300)),
        };
        string path = Path.Combine(_temp, "roundtrip.pth");
        PthStateDict.Write(path, original);
        var back = PthStateDict.Read(path);
        Assert.Equal(original.Select(kv => kv.Key), back.Keys);
        foreach (var (key, value) in original)
        {
            Assert.Equal(value.shape, back[key].shape);
            Assert.Equal(value.dtype, back[key].dtype);
            Assert.True(Identical(value, back[key]), key);
        }
    }

    [Fact]
    public void WritingOverALargerFileLeavesAValidCheckpoint()
    {
        using var scope = torch.NewDisposeScope();
        string path = Path.Combine(_temp, "over.pth");
        PthStateDict.Write(path, [new("big", torch.randn(512, 512))]);
        var small = torch.randn(2, 2);
        PthStateDict.Write(path, [new("small", small)]);
        var back = PthStateDict.Read(path);
        Assert.Equal(["small"], back.Keys);
        Assert.True(Identical(small, back["small"]));
        Assert.Empty(Directory.GetFiles(_temp, "*.tmp"));
    }

    [Fact]
    public void RoundTripOfOffsetViewsAndGradTensorsWritesTheirOwnValues()
    {
        using var scope = torch.NewDisposeScope();
        var grid = torch.arange(24, dtype: ScalarType.Float32).reshape(4, 6);
        var trained = torch.randn(3, 2).requires_grad_(true);
        var original = new List<KeyValuePair<string, Tensor>>
        {
            new("rows", grid[1..3]),          // contiguous, storage offset 6
            new("column", grid[.., 4]),       // strided, offset 4
            new("last", grid[3, 5]),          // 0-d, offset 23
            new("trained", trained),
        };
        string path = Path.Combine(_temp, "views.pth");
        PthStateDict.Write(path, original);
        var back = PthStateDict.Read(path);
        Assert.Equal(original.Select(kv => kv.Key), back.Keys);
        foreach (var (key, value) in original)
            Assert.True(Identical(value.detach().contiguous(), back[key]), key);
        Assert.All(back.Values, t => Assert.False(t.requires_grad));
        Assert.All(back.Values, t => Assert.True(t.is_contiguous()));
    }

    [Fact]
    public void DuplicateKeyIsAnErrorAndWritesNothing()
    {
        using var scope = torch.NewDisposeScope();
        string path = Path.Combine(_temp, "duplicate.pth");
        var error = Assert.Throws<ArgumentException>(() => PthStateDict.Write(path, [new("w", torch.ones(2)), new("w", torch.zeros(2))]));
        Assert.Contains("'w'", error.Message);
        Assert.Empty(Directory.GetFiles(_temp));
    }

    [Fact]
    public void ConcurrentReadsEachKeepTheirFileOrder()
    {
        string fixture = Fixture("torch_saved.pth");
        string written = Path.Combine(_temp, "ordered.pth");
        string[] writtenKeys = [.. Enumerable.Range(0, 40).Select(i => $"k{(i * 7) % 40:D2}")];
        using (var scope = torch.NewDisposeScope())
            PthStateDict.Write(written, writtenKeys.Select(k => new KeyValuePair<string, Tensor>(k, torch.randn(3))));

        Parallel.For(0, 8, i =>
        {
            using var scope = torch.NewDisposeScope();
            if (i % 2 == 0)
                Assert.Equal(["param", "view_t", "view_slice", "long", "half", "scalar", "bool", "double"], PthStateDict.Read(fixture).Keys);
            else
                Assert.Equal(writtenKeys, PthStateDict.Read(written).Keys);
        });
    }

    [Fact]
    public void NonTensorEntryIsAClearErrorNamingItsType()
    {
        using var scope = torch.NewDisposeScope();
        string path = Path.Combine(_temp, "with_epoch.pth");
        // A training checkpoint {"epoch": 3, "w": tensor}, pickled by PyBridge as torch.save would.
        TorchSharp.PyBridge.PyTorchPickler.PickleStateDict(path, new System.Collections.Hashtable { ["epoch"] = 3, ["w"] = torch.ones(2) });
        var error = Assert.Throws<InvalidDataException>(() => PthStateDict.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("'epoch' is an integer", error.Message);
    }

    [Fact]
    public void PyBridgeModuleLoadingStillWorksAfterOurConstructorsAreRegistered()
    {
        using var scope = torch.NewDisposeScope();
        string path = Path.Combine(_temp, "linear.pth");
        var source = nn.Linear(4, 3);
        PthStateDict.Write(path, ModuleStateDict.Ordered(source));
        PthStateDict.Read(path);   // registers the Parameter and view constructors process-wide

        var target = nn.Linear(4, 3);
        TorchSharp.PyBridge.PyBridgeModuleExtensions.load_py(target, path);
        Assert.True(Identical(source.weight!.detach(), target.weight!.detach()));
        Assert.True(Identical(source.bias!.detach(), target.bias!.detach()));
    }

    [Fact]
    public void TensorLargerThanItsStorageIsAClearError()
    {
        using var scope = torch.NewDisposeScope();
        string good = Path.Combine(_temp, "four.pth");
        PthStateDict.Write(good, [new("w", torch.arange(4, dtype: ScalarType.Float32))]);
        // Re-zip with data.pkl claiming shape (8,) (BININT1 8, TUPLE1) over the same 4-element storage; CRCs stay valid.
        string path = Path.Combine(_temp, "eight.pth");
        using (var source = System.IO.Compression.ZipFile.OpenRead(good))
        using (var target = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Create))
        {
            foreach (var entry in source.Entries)
            {
                using var content = new MemoryStream();
                using (var data = entry.Open())
                    data.CopyTo(content);
                byte[] bytes = content.ToArray();
                if (entry.Name == "data.pkl")
                    bytes[bytes.AsSpan().IndexOf(new byte[] { (byte)'K', 4, 0x85 }) + 1] = 8;
                using var copy = target.CreateEntry(entry.FullName).Open();
                copy.Write(bytes);
            }
        }
        var error = Assert.Throws<InvalidDataException>(() => PthStateDict.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("past the end of its storage", error.Message);
    }

    internal static bool Identical(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && (a.numel() == 0 || (a != b).sum().item<long>() == 0);

    [Fact]
    public void MissingFileIsAClearError()
    {
        string path = Path.Combine(_temp, "nothing.pth");
        var error = Assert.Throws<FileNotFoundException>(() => PthStateDict.Read(path));
        Assert.Contains(path, error.Message);
    }

    [Theory]
    [MemberData(nameof(ParityCases.LoraCases), MemberType = typeof(ParityCases))]
    public void TruncatedFileIsAClearError(string caseDirectory)
    {
        var reference = ParityCase.Load(caseDirectory);
        byte[] bytes = File.ReadAllBytes(reference.LoraCheckpointPath);
        foreach (int length in new[] { 2, bytes.Length / 2, bytes.Length - 30 })
        {
            string path = Path.Combine(_temp, $"truncated_{length}.pth");
            File.WriteAllBytes(path, bytes[..length]);
            var error = Assert.ThrowsAny<InvalidDataException>(() => PthStateDict.Read(path));
            Assert.Contains(path, error.Message);
        }
    }

    [Fact]
    public void CorruptTensorRecordIsAClearError()
    {
        using var scope = torch.NewDisposeScope();
        string good = Path.Combine(_temp, "good.pth");
        PthStateDict.Write(good, [new("w", torch.randn(64, 64))]);
        byte[] bytes = File.ReadAllBytes(good);
        // Flip bytes inside the tensor data: the zip CRC no longer matches.
        for (int i = 200; i < 260; i++)
            bytes[i] ^= 0x5a;
        string path = Path.Combine(_temp, "corrupt.pth");
        File.WriteAllBytes(path, bytes);
        var error = Assert.ThrowsAny<InvalidDataException>(() => PthStateDict.Read(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void NonCheckpointFileIsAClearError()
    {
        string path = Path.Combine(_temp, "text.pth");
        File.WriteAllText(path, "this is not a checkpoint");
        var error = Assert.ThrowsAny<InvalidDataException>(() => PthStateDict.Read(path));
        Assert.Contains(path, error.Message);
    }
}
