using SAMed.Training;

namespace SAMed.Tests.Training;

public class LearningRateScheduleTests
{
    [Fact]
    public void WarmupThenPolyAsTrainerPy()
    {
        var s = new LearningRateSchedule(0.005, Warmup: true, WarmupPeriod: 250, MaxIterations: 1000);
        Assert.Equal(0.005 / 250, s.Initial, 15);
        Assert.Equal(0.005 / 250, s.ForStep(0), 15);
        Assert.Equal(0.005 * 1 / 250, s.AfterStep(0), 15);
        Assert.Equal(0.005 * 2 / 250, s.ForStep(2), 15);
        Assert.Equal(0.005 * 250 / 250, s.AfterStep(249), 15);
        Assert.Equal(0.005, s.AfterStep(250), 15);
        Assert.Equal(0.005 * Math.Pow(1 - 10 / 1000.0, 0.9), s.AfterStep(260), 15);
    }

    [Fact]
    public void WithoutWarmupPolyStartsAtIterationZero()
    {
        var s = new LearningRateSchedule(0.01, Warmup: false, WarmupPeriod: 250, MaxIterations: 100, Exponent: 7);
        Assert.Equal(0.01, s.Initial);
        Assert.Equal(0.01, s.AfterStep(0), 15);
        Assert.Equal(0.01 * Math.Pow(1 - 5 / 100.0, 7), s.AfterStep(5), 15);
    }
}
