using SAMed.IO;
using ScottPlot;

namespace SAMed.Training;

/// <summary>
/// progress.png, as nnU-Net writes one per run: above, the training loss of every step and its mean per epoch with
/// the held-out mean Dice on the right axis; below, the learning rate each step used. Drawn with ScottPlot.
/// </summary>
public static class ProgressPlot
{
    public const int Width = 1000, Height = 800;

    /// <summary>Most step points drawn per curve; longer runs are averaged in bins of consecutive steps.</summary>
    private const int MaxPoints = 4000;

    public static void Write(string path, IReadOnlyList<StepRecord> steps, IReadOnlyList<HeldOutRecord> heldOut)
    {
        var multiplot = new Multiplot();
        multiplot.Reset(LossAndDice(steps, heldOut));
        multiplot.AddPlot(LearningRate(steps));
        var image = multiplot.Render(Width, Height);
        byte[] png = image.GetImageBytes(ImageFormat.Png, 100);
        AtomicFile.Write(path, stream => stream.Write(png));
    }

    private static Plot LossAndDice(IReadOnlyList<StepRecord> steps, IReadOnlyList<HeldOutRecord> heldOut)
    {
        var plot = new Plot();
        var (x, loss) = Binned(steps, s => s.Loss);
        var raw = plot.Add.ScatterLine(x, loss, Colors.SteelBlue.WithAlpha(0.35));
        raw.LegendText = "loss (step)";
        var epochs = steps.GroupBy(s => s.Epoch).Select(g => (Iteration: (double)g.Max(s => s.Iteration), Loss: g.Average(s => s.Loss))).ToArray();
        var mean = plot.Add.Scatter(epochs.Select(e => e.Iteration).ToArray(), epochs.Select(e => e.Loss).ToArray(), Colors.Navy);
        mean.LegendText = "loss (epoch mean)";
        mean.LineWidth = 2;
        mean.MarkerSize = epochs.Length > 60 ? 0 : 4;
        plot.Axes.Left.Label.Text = "loss (0.2 CE + 0.8 Dice)";
        if (heldOut.Count > 0)
        {
            var dice = plot.Add.Scatter(heldOut.Select(h => (double)h.Iteration).ToArray(), heldOut.Select(h => h.MeanDice).ToArray(), Colors.OrangeRed);
            dice.LegendText = "held-out mean Dice";
            dice.LineWidth = 2;
            dice.MarkerSize = 7;
            dice.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "held-out mean Dice";
            plot.Axes.SetLimitsY(0, 1, plot.Axes.Right);
        }
        plot.Axes.Bottom.Label.Text = "iteration";
        plot.Title("training progress");
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    private static Plot LearningRate(IReadOnlyList<StepRecord> steps)
    {
        var plot = new Plot();
        var (x, lr) = Binned(steps, s => s.Lr);
        var line = plot.Add.ScatterLine(x, lr, Colors.DarkGreen);
        line.LineWidth = 2;
        plot.Axes.Left.Label.Text = "learning rate (step_lr)";
        plot.Axes.Bottom.Label.Text = "iteration";
        return plot;
    }

    /// <summary>The steps' iterations and values, averaged in bins when there are more than <see cref="MaxPoints"/>.</summary>
    private static (double[] X, double[] Y) Binned(IReadOnlyList<StepRecord> steps, Func<StepRecord, double> value)
    {
        int bin = Math.Max(1, (steps.Count + MaxPoints - 1) / MaxPoints);
        var bins = steps.Select((s, i) => (s, i)).GroupBy(t => t.i / bin).ToArray();
        return (bins.Select(b => b.Average(t => (double)t.s.Iteration)).ToArray(), bins.Select(b => b.Average(t => value(t.s))).ToArray());
    }
}
