using System.IO.Compression;
using Razorvine.Pickle;
using Razorvine.Pickle.Objects;

namespace SAMed.Checkpoints;

/// <summary>
/// Names the Python class of a checkpoint's top-level object (e.g. torch.nn.modules.linear.Linear for a whole
/// pickled model) by unpickling data.pkl with Razorvine again, tensors replaced by <see cref="StorageStub"/>.
/// Used only to explain why a file is not a state dict.
/// </summary>
internal static class PickledRoot
{
    public static string ClassName(Stream stream)
    {
        try
        {
            stream.Position = 0;
            using var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            var pickle = archive.Entries.First(e => e.Name == "data.pkl");
            using var data = pickle.Open();
            using var unpickler = new StubUnpickler();
            return unpickler.load(data) switch
            {
                ClassDict classDict => classDict.ClassName,
                null => "None",
                var other => other.GetType().Name,
            };
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return "Python";
        }
    }

    private sealed class StubUnpickler : Unpickler
    {
        protected override object persistentLoad(object pid) => StorageStub.Instance;
    }
}

/// <summary>Stands in for a tensor storage (and the tensors built on it) when only the pickle's structure matters.</summary>
internal sealed class StorageStub
{
    public static readonly StorageStub Instance = new();
}
