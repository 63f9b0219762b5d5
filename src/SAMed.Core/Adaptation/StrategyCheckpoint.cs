using SAMed.Checkpoints;
using static TorchSharp.torch;

namespace SAMed.Adaptation;

/// <summary>
/// A strategy checkpoint file (epoch_N.pth of any strategy, or SAMed's LoRA file), read once for everything asked of
/// it: what it holds (<see cref="Contents"/>, from its key names and shapes) and its tensors for
/// <see cref="AdaptedSam.LoadCheckpoint(StrategyCheckpoint)"/>. The file is read on first use, so errors come in the
/// order the caller asks; they name the file. Disposing releases the tensors.
/// </summary>
public sealed class StrategyCheckpoint(string path) : IDisposable
{
    private Dictionary<string, Tensor>? tensors;
    private bool disposed;

    public string Path { get; } = path;

    /// <summary>Every tensor of the file in file order (<see cref="PthStateDict.Read"/>: a missing or damaged file is an exception naming it).</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            return tensors ??= PthStateDict.Read(Path);
        }
    }

    /// <summary>What the file holds; a file that is no strategy checkpoint is an exception naming it.</summary>
    public CheckpointContents Contents => CheckpointContents.Of(Tensors) ?? throw new InvalidDataException(
        $"{Path}: not a SAMed.NET or SAMed checkpoint (no w_a_000, adapters, image_encoder.* or mask_decoder.* tensors; keys: {string.Join(", ", Tensors.Keys.Take(5))}...)");

    public void Dispose()
    {
        disposed = true;
        if (tensors is null)
            return;
        foreach (var tensor in tensors.Values)
            tensor.Dispose();
        tensors = null;
    }
}
