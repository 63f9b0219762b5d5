using SAMed.Data;

namespace SAMed.Tests.Data;

public class NdimageTests
{
    private static float[,] Ramp(int height, int width)
    {
        var a = new float[height, width];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
                a[y, x] = y * width + x;
        }
        return a;
    }

    [Fact]
    public void NearestZoomPicksFloorOfCoordinatePlusHalf()
    {
        // scipy.ndimage.zoom(np.arange(6.).reshape(2, 3), 2, order=0)
        var zoomed = Ndimage.Zoom(Ramp(2, 3), 2, 2, order: 0);
        float[,] expected =
        {
            { 0, 0, 1, 1, 2, 2 },
            { 0, 0, 1, 1, 2, 2 },
            { 3, 3, 4, 4, 5, 5 },
            { 3, 3, 4, 4, 5, 5 },
        };
        Assert.Equal(expected, zoomed);
    }

    [Fact]
    public void NearestZoomOfLongLabelsMatchesTheFloatPath()
    {
        var floats = Ramp(13, 17);
        var longs = new long[13, 17];
        for (int y = 0; y < 13; y++)
        {
            for (int x = 0; x < 17; x++)
                longs[y, x] = (long)floats[y, x];
        }
        var fromFloat = Ndimage.ZoomTo(floats, 40, 9, order: 0);
        var fromLong = Ndimage.ZoomNearestTo(longs, 40, 9);
        Assert.Equal(fromFloat.Cast<float>().Select(v => (long)v), fromLong.Cast<long>());
        Assert.Equal(40, fromLong.GetLength(0));
        Assert.Equal(9, fromLong.GetLength(1));
    }

    [Fact]
    public void OutputShapeRoundsHalfToEvenLikePython()
    {
        Assert.Equal((2, 4), Ndimage.ZoomOutputShape(5, 7, 0.5, 0.5));
        Assert.Equal((224, 224), Ndimage.ZoomOutputShape(512, 371, 224 / 512.0, 224 / 371.0));
    }

    [Fact]
    public void CubicZoomKeepsAConstantImageConstant()
    {
        var constant = new float[5, 4];
        for (int y = 0; y < 5; y++)
        {
            for (int x = 0; x < 4; x++)
                constant[y, x] = 0.75f;
        }
        var zoomed = Ndimage.Zoom(constant, 2, 2, order: 3);
        Assert.Equal(10, zoomed.GetLength(0));
        Assert.Equal(8, zoomed.GetLength(1));
        Assert.All(zoomed.Cast<float>(), v => Assert.Equal(0.75f, v, 1e-6f));
    }

    [Fact]
    public void CubicZoomInterpolatesThroughTheSamples()
    {
        // Zooming 5 -> 9 samples puts every second output on an input sample, where the spline equals the data.
        var input = Ramp(5, 5);
        input[2, 3] = 40;
        var zoomed = Ndimage.Zoom(input, 9 / 5.0, 9 / 5.0, order: 3);
        for (int y = 0; y < 5; y++)
        {
            for (int x = 0; x < 5; x++)
                Assert.Equal(input[y, x], zoomed[2 * y, 2 * x], 1e-4f);
        }
    }

    [Fact]
    public void ZoomToReachesTheRequestedSize()
    {
        var zoomed = Ndimage.ZoomTo(Ramp(37, 29), 224, 224, order: 3);
        Assert.Equal(224, zoomed.GetLength(0));
        Assert.Equal(224, zoomed.GetLength(1));
    }

    [Fact]
    public void RotateByZeroIsIdentityAndByNinetyIsRot90()
    {
        var input = Ramp(7, 7);
        Assert.Equal(input, Ndimage.Rotate(input, 0));
        Assert.Equal(NdimageOrientation.Rot90(input, 1), Ndimage.Rotate(input, 90));
        Assert.Equal(NdimageOrientation.Rot90(input, 3), Ndimage.Rotate(input, -90));
    }

    [Fact]
    public void RotateFillsCornersWithZero()
    {
        var ones = new float[21, 21];
        for (int y = 0; y < 21; y++)
        {
            for (int x = 0; x < 21; x++)
                ones[y, x] = 1;
        }
        var rotated = Ndimage.Rotate(ones, 20);
        Assert.Equal(0f, rotated[0, 0]);
        Assert.Equal(1f, rotated[10, 10]);
    }

    [Fact]
    public void UnsupportedOrderIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Ndimage.Zoom(Ramp(4, 4), 2, 2, order: 2));
    }

    [Fact]
    public void Rot90AndFlipFollowNumPy()
    {
        float[,] m = { { 1, 2 }, { 3, 4 } };
        Assert.Equal(new float[,] { { 2, 4 }, { 1, 3 } }, NdimageOrientation.Rot90(m, 1));
        Assert.Equal(new float[,] { { 4, 3 }, { 2, 1 } }, NdimageOrientation.Rot90(m, 2));
        Assert.Equal(new float[,] { { 3, 1 }, { 4, 2 } }, NdimageOrientation.Rot90(m, 3));
        Assert.Equal(new float[,] { { 3, 4 }, { 1, 2 } }, NdimageOrientation.Flip(m, 0));
        Assert.Equal(new float[,] { { 2, 1 }, { 4, 3 } }, NdimageOrientation.Flip(m, 1));
        // np.rot90(np.arange(6).reshape(2, 3)) == [[2, 5], [1, 4], [0, 3]]
        Assert.Equal(new float[,] { { 2, 5 }, { 1, 4 }, { 0, 3 } }, NdimageOrientation.Rot90(Ramp(2, 3), 1));
    }
}
