namespace SAMed.Tests.Training;

/// <summary>
/// Tests that seed libtorch's global generator and then build models from it. xunit runs test classes in
/// parallel, and any other test drawing random numbers in between would change the initial weights, so these run
/// alone.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchRngCollection
{
    public const string Name = "libtorch global generator";
}
