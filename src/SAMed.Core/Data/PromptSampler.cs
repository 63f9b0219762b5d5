namespace SAMed.Data;

/// <summary>A box (inclusive pixel corners) and/or points with labels (1 inside, 0 outside), in pixels of the target's frame.</summary>
public sealed record SampledPrompt((float X0, float Y0, float X1, float Y1)? Box, IReadOnlyList<(float X, float Y, int Label)> Points)
{
    /// <summary>A lone point is ambiguous: SAM predicts three masks for it.</summary>
    public bool Multimask => Box is null && Points.Count == 1;
}

/// <summary>
/// Prompts drawn from a binary target [H, W] (row-major): MedSAM's box (the target's bounding box, each side moved
/// out by a random 0..maxShift pixels, clipped to the image; train_one_gpu.py's bbox_shift = 20 at 1024) and
/// SAM-Med2D's points (k positive pixels drawn uniformly inside the target, optional negative ones outside).
/// </summary>
public static class PromptSampler
{
    /// <summary>MedSAM's 20-pixel box jitter at 1024, scaled to <paramref name="imageSize"/> (rounded).</summary>
    public static int BoxShift(int imageSize, int shiftAt1024 = 20) => (int)Math.Round(shiftAt1024 * imageSize / 1024.0);

    /// <summary>Inclusive bounding box (x0, y0, x1, y1) of the target, null when it is empty.</summary>
    public static (int X0, int Y0, int X1, int Y1)? Bounds(ReadOnlySpan<bool> target, int height, int width)
    {
        int x0 = int.MaxValue, y0 = int.MaxValue, x1 = -1, y1 = -1;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                if (!target[y * width + x])
                    continue;
                x0 = Math.Min(x0, x);
                x1 = Math.Max(x1, x);
                y0 = Math.Min(y0, y);
                y1 = Math.Max(y1, y);
            }
        return x1 < 0 ? null : (x0, y0, x1, y1);
    }

    /// <summary>MedSAM's box: x_min = max(0, x_min - randint(0, shift)), x_max = min(W - 1, x_max + randint(0, shift)), likewise y.</summary>
    public static (float X0, float Y0, float X1, float Y1) Box(ReadOnlySpan<bool> target, int height, int width, int maxShift, Random random)
    {
        var (x0, y0, x1, y1) = Bounds(target, height, width) ?? throw new ArgumentException("an empty target has no box");
        int Shift() => maxShift > 0 ? random.Next(0, maxShift + 1) : 0;
        return (Math.Max(0, x0 - Shift()), Math.Max(0, y0 - Shift()), Math.Min(width - 1, x1 + Shift()), Math.Min(height - 1, y1 + Shift()));
    }

    /// <summary><paramref name="positives"/> pixels inside the target and <paramref name="negatives"/> outside, uniformly (with replacement).</summary>
    public static List<(float X, float Y, int Label)> Points(ReadOnlySpan<bool> target, int height, int width, int positives, int negatives, Random random)
    {
        var inside = new List<int>();
        var outside = new List<int>();
        for (int i = 0; i < height * width; i++)
            (target[i] ? inside : outside).Add(i);
        if (inside.Count == 0)
            throw new ArgumentException("an empty target has no positive points");
        var points = new List<(float, float, int)>(positives + negatives);
        for (int k = 0; k < positives; k++)
        {
            int i = inside[random.Next(inside.Count)];
            points.Add((i % width, i / width, 1));
        }
        for (int k = 0; k < negatives && outside.Count > 0; k++)
        {
            int i = outside[random.Next(outside.Count)];
            points.Add((i % width, i / width, 0));
        }
        return points;
    }

    /// <summary>
    /// The evaluation click: the target pixel farthest from the target's border (city-block distance), ties to the
    /// first in row-major order; deterministic, always inside the target.
    /// </summary>
    public static (float X, float Y, int Label) CentralPoint(ReadOnlySpan<bool> target, int height, int width)
    {
        var distance = new int[height * width];
        const int far = int.MaxValue / 2;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = y * width + x;
                if (!target[i])
                    continue;
                int up = y > 0 ? distance[i - width] : 0, left = x > 0 ? distance[i - 1] : 0;
                distance[i] = Math.Min(Math.Min(up, left) + 1, far);
            }
        int best = -1, bestDistance = 0;
        for (int y = height - 1; y >= 0; y--)
            for (int x = width - 1; x >= 0; x--)
            {
                int i = y * width + x;
                if (!target[i])
                    continue;
                int down = y < height - 1 ? distance[i + width] : 0, right = x < width - 1 ? distance[i + 1] : 0;
                distance[i] = Math.Min(distance[i], Math.Min(down, right) + 1);
            }
        for (int i = 0; i < distance.Length; i++)
            if (target[i] && distance[i] > bestDistance)
                (best, bestDistance) = (i, distance[i]);
        if (best < 0)
            throw new ArgumentException("an empty target has no central point");
        return (best % width, best / width, 1);
    }
}
