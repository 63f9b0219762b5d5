namespace SAMed.Training;

/// <summary>
/// SAMed's trainer.py schedule. The optimizer starts at base_lr / warmup_period (base_lr without warmup). After the
/// optimizer step of 0-based iteration it, the rate for the next step is base_lr * (it + 1) / warmup_period while
/// warmup is on and it &lt; warmup_period, else base_lr * (1 - shift / max_iterations)^exponent with
/// shift = it - warmup_period (it without warmup); trainer.py then increments iter_num.
/// </summary>
public sealed record LearningRateSchedule(double BaseLr, bool Warmup, int WarmupPeriod, long MaxIterations, double Exponent = 0.9)
{
    public double Initial => Warmup ? BaseLr / WarmupPeriod : BaseLr;

    /// <summary>The rate set after the step of iteration <paramref name="iteration"/> (0-based).</summary>
    public double AfterStep(long iteration)
    {
        if (Warmup && iteration < WarmupPeriod)
            return BaseLr * ((iteration + 1) / (double)WarmupPeriod);
        long shift = Warmup ? iteration - WarmupPeriod : iteration;
        return BaseLr * Math.Pow(1.0 - shift / (double)MaxIterations, Exponent);
    }

    /// <summary>The rate the step of iteration <paramref name="iteration"/> uses.</summary>
    public double ForStep(long iteration) => iteration == 0 ? Initial : AfterStep(iteration - 1);
}
