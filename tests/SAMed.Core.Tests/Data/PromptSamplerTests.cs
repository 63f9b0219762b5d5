using SAMed.Data;

namespace SAMed.Tests.Data;

public class PromptSamplerTests
{
    private static bool[] Rectangle(int height, int width, int x0, int y0, int x1, int y1)
    {
        var mask = new bool[height * width];
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
                mask[y * width + x] = true;
        return mask;
    }

    [Theory]
    [InlineData(1024, 20)]
    [InlineData(256, 5)]
    [InlineData(64, 1)]
    public void BoxShiftIsMedSamsTwentyPixelsScaled(int size, int shift) => Assert.Equal(shift, PromptSampler.BoxShift(size));

    [Fact]
    public void BoxSidesMoveOutByZeroToShiftAndStayInTheImage()
    {
        var mask = Rectangle(40, 50, 2, 10, 30, 38);
        var random = new Random(1);
        var seen = new HashSet<float>();
        for (int i = 0; i < 200; i++)
        {
            var (x0, y0, x1, y1) = PromptSampler.Box(mask, 40, 50, 5, random);
            Assert.InRange(x0, 0, 2);
            Assert.InRange(y0, 5, 10);
            Assert.InRange(x1, 30, 35);
            Assert.InRange(y1, 38, 39);
            seen.Add(y0);
        }
        Assert.Equal(6, seen.Count); // every shift 0..5 occurs
        Assert.Equal((2f, 10f, 30f, 38f), PromptSampler.Box(mask, 40, 50, 0, random));
    }

    [Fact]
    public void PointsArePositiveInsideAndNegativeOutside()
    {
        var mask = Rectangle(20, 20, 5, 6, 9, 12);
        var points = PromptSampler.Points(mask, 20, 20, 3, 2, new Random(4));
        Assert.Equal(5, points.Count);
        foreach (var (x, y, label) in points)
            Assert.Equal(label == 1, mask[(int)y * 20 + (int)x]);
        Assert.Equal(3, points.Count(p => p.Label == 1));
    }

    [Fact]
    public void CentralPointIsTheDeepestPixel()
    {
        var mask = Rectangle(20, 30, 4, 2, 14, 8);
        var (x, y, label) = PromptSampler.CentralPoint(mask, 20, 30);
        Assert.Equal(1, label);
        Assert.Equal(5f, y);
        Assert.InRange(x, 7, 11);
        Assert.Throws<ArgumentException>(() => PromptSampler.CentralPoint(new bool[4], 2, 2));
    }
}
