namespace SAMed.Tests.Reference;

/// <summary>SAMED_TEST_DEVICE's spelling.</summary>
public class TestDeviceTests
{
    [Theory]
    [InlineData(null, "cpu")]
    [InlineData("", "cpu")]
    [InlineData("  ", "cpu")]
    [InlineData("cpu", "cpu")]
    [InlineData("cuda", "cuda")]
    [InlineData(" cuda:1 ", "cuda:1")]
    public void ValidNamesParse(string? value, string expected) => Assert.Equal(expected, TestDevice.Parse(value));

    [Theory]
    [InlineData("gpu")]
    [InlineData("CUDA")]
    [InlineData("cuda:x")]
    public void MisspeltNamesFailNamingTheVariable(string value)
    {
        var error = Assert.Throws<ArgumentException>(() => TestDevice.Parse(value));
        Assert.StartsWith($"SAMED_TEST_DEVICE={value}:", error.Message, StringComparison.Ordinal);
    }
}
