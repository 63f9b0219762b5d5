using SAMed.TorchInterop;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Tests.Reference;

/// <summary>
/// The device the tests that compare numbers run on: SAMED_TEST_DEVICE (cpu, cuda or cuda:N; default cpu), so that
/// `SAMED_TEST_DEVICE=cuda dotnet test --filter Category=Parity` runs the parity cases on a GPU. A test that cannot
/// run on it (no CUDA in this libtorch, no such device) is skipped with the reason; a misspelt value fails.
/// </summary>
public static class TestDevice
{
    public const string Variable = "SAMED_TEST_DEVICE";

    /// <summary>The device name SAMED_TEST_DEVICE asks for.</summary>
    public static string Name => Parse(Environment.GetEnvironmentVariable(Variable));

    /// <summary>cpu when unset or blank; a device name as --device takes it; anything else throws naming the variable.</summary>
    public static string Parse(string? value)
    {
        string name = string.IsNullOrWhiteSpace(value) ? "cpu" : value.Trim();
        if (TorchDevices.FormatProblem(name) is string problem)
            throw new ArgumentException($"{Variable}={value}: {problem}");
        return name;
    }

    /// <summary>The device, or a skip (inside a SkippableFact / SkippableTheory) saying why it cannot be used here.</summary>
    public static Device Get() => torch.device(UsableName());

    /// <summary>The device's name as --device takes it, or a skip as <see cref="Get"/>.</summary>
    public static string UsableName()
    {
        string name = Name;
        Skip.If(TorchDevices.Problem(name) is not null, $"{Variable}={name}: {TorchDevices.Problem(name)}");
        return name;
    }
}
