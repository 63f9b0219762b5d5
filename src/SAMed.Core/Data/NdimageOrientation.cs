namespace SAMed.Data;

/// <summary>numpy.rot90 (axes (0, 1)) and numpy.flip on 2D arrays, as SAMed's random_rot_flip uses them.</summary>
public static class NdimageOrientation
{
    /// <summary>numpy.rot90(input, k): k quarter turns counterclockwise (negative k turns clockwise).</summary>
    public static float[,] Rot90(float[,] input, int k)
    {
        ArgumentNullException.ThrowIfNull(input);
        int height = input.GetLength(0), width = input.GetLength(1);
        k = ((k % 4) + 4) % 4;
        if (k == 0)
            return (float[,])input.Clone();
        if (k == 2)
        {
            var half = new float[height, width];
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                    half[y, x] = input[height - 1 - y, width - 1 - x];
            }
            return half;
        }
        var output = new float[width, height];
        for (int y = 0; y < width; y++)
        {
            for (int x = 0; x < height; x++)
                output[y, x] = k == 1 ? input[x, width - 1 - y] : input[height - 1 - x, y];
        }
        return output;
    }

    /// <summary>numpy.flip(input, axis) for axis 0 (rows reversed) or 1 (columns reversed).</summary>
    public static float[,] Flip(float[,] input, int axis)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (axis is not (0 or 1))
            throw new ArgumentOutOfRangeException(nameof(axis), axis, "a 2D array flips along axis 0 or 1");
        int height = input.GetLength(0), width = input.GetLength(1);
        var output = new float[height, width];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
                output[y, x] = axis == 0 ? input[height - 1 - y, x] : input[y, width - 1 - x];
        }
        return output;
    }
}
