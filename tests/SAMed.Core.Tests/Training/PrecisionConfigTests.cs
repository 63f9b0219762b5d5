using SAMed.Adaptation;
using SAMed.Training;
using TorchSharp;

namespace SAMed.Tests.Training;

/// <summary>The precision and allow_tf32 settings: defaults, JSON keys, overrides and validation.</summary>
public class PrecisionConfigTests
{
    [Fact]
    public void DefaultsAreFloat32WithTf32Allowed()
    {
        var c = new TrainConfig();
        Assert.Equal("float32", c.Precision);
        Assert.True(c.AllowTf32);
        string json = TrainConfigFile.ToJson(c);
        Assert.Contains("\"precision\": \"float32\"", json);
        Assert.Contains("\"allow_tf32\": true", json);
        // Configurations written before the settings existed still load, with the defaults.
        var old = TrainConfigFile.Parse("{\"vit_name\": \"tiny\"}", "old.json");
        Assert.Equal(("float32", true), (old.Precision, old.AllowTf32));
    }

    [Fact]
    public void SetOverridesAndJsonKeysReachTheSettings()
    {
        var c = TrainConfigFile.Apply(new TrainConfig(), ["precision=bfloat16", "allow_tf32=false"]);
        Assert.Equal(("bfloat16", false), (c.Precision, c.AllowTf32));
        var parsed = TrainConfigFile.Parse("{\"precision\": \"bfloat16\", \"allow_tf32\": false}", "my.json");
        Assert.Equal(("bfloat16", false), (parsed.Precision, parsed.AllowTf32));
        Assert.Empty(TrainConfigFile.Problems(TrainPresets.Smoke with { Precision = "bfloat16" }));
        Assert.Throws<TrainConfigException>(() => TrainConfigFile.Apply(new TrainConfig(), ["allow_tf32=maybe"]));
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    [InlineData("Float32")]
    [InlineData("")]
    public void UnknownPrecisionIsRejectedByName(string precision)
    {
        var e = Assert.Throws<TrainConfigException>(() => TrainConfigFile.Validate(TrainPresets.Smoke with { Precision = precision }, "cfg"));
        Assert.Contains($"precision '{precision}' must be float32 or bfloat16", e.Message);
    }

    [Fact]
    public void Float16IsRefusedWithTheReason()
    {
        var problems = TrainConfigFile.Problems(TrainPresets.Smoke with { Precision = "float16" });
        var problem = Assert.Single(problems);
        Assert.Contains("precision 'float16' is not supported", problem);
        Assert.Contains("bfloat16", problem);
    }

    [Fact]
    public void EncoderTypeFollowsThePrecision()
    {
        Assert.Equal(torch.ScalarType.Float32, TrainingPrecision.EncoderType("float32"));
        Assert.Equal(torch.ScalarType.BFloat16, TrainingPrecision.EncoderType("bfloat16"));
        Assert.Throws<ArgumentException>(() => TrainingPrecision.EncoderType("float16"));
    }

    /// <summary>The libtorch flags are process-wide: a CUDA run sets both from allow_tf32, a CPU run leaves them alone.</summary>
    [Fact]
    public void Tf32FlagsFollowTheSettingOnCudaOnly()
    {
        bool matmul = torch.backends.cuda.matmul.allow_tf32, cudnn = torch.backends.cudnn.allow_tf32;
        try
        {
            TrainingPrecision.ConfigureBackends("cuda:0", false);
            Assert.False(torch.backends.cuda.matmul.allow_tf32);
            Assert.False(torch.backends.cudnn.allow_tf32);
            TrainingPrecision.ConfigureBackends("cpu", true);
            Assert.False(torch.backends.cuda.matmul.allow_tf32);
            Assert.False(torch.backends.cudnn.allow_tf32);
            TrainingPrecision.ConfigureBackends("cuda", true);
            Assert.True(torch.backends.cuda.matmul.allow_tf32);
            Assert.True(torch.backends.cudnn.allow_tf32);
        }
        finally
        {
            torch.backends.cuda.matmul.allow_tf32 = matmul;
            torch.backends.cudnn.allow_tf32 = cudnn;
        }
    }
}
