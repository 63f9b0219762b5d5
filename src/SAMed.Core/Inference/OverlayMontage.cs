using SAMed.IO;

namespace SAMed.Inference;

/// <summary>
/// A PNG montage of up to <see cref="MaxTiles"/> slices of a volume (windowed grey values) with every class painted
/// in its colour, each tile titled with its slice index, and a legend of the classes below. Given the voxel axes'
/// orientation codes (e.g. "RAS"), tiles are flipped to the radiological view: anterior or superior up, the patient's
/// right (or anterior, for sagittal slices) on the left; otherwise they show the voxel order as stored. Prompt boxes,
/// when given, are outlined in their label's colour on the slices they span.
/// </summary>
public static class OverlayMontage
{
    public const int MaxTiles = 12;
    private const int Columns = 4;
    private const int TileSize = 256;
    private const int Margin = 6;
    private const int Scale = 2;
    private const double Alpha = 0.45;

    private static readonly (byte R, byte G, byte B)[] Palette =
    [
        (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
        (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200),
        (128, 0, 0), (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (128, 128, 128),
    ];

    /// <summary>The colour of class <paramref name="label"/> (1..N).</summary>
    public static (byte R, byte G, byte B) Colour(int label) => Palette[(label - 1) % Palette.Length];

    /// <summary>Slices to show: evenly spread over those holding any label, or over all slices when none does.</summary>
    public static int[] ChooseSlices(VolumeSlicer slicer, ReadOnlySpan<byte> labels, IReadOnlyList<OverlayBox>? boxes = null)
    {
        var labelled = new List<int>();
        for (int s = 0; s < slicer.SliceCount; s++)
            if (slicer.AnyNonZero(labels, s) || (boxes?.Any(b => b.SliceStart <= s && s <= b.SliceEnd) ?? false))
                labelled.Add(s);
        var pool = labelled.Count > 0 ? labelled : [.. Enumerable.Range(0, slicer.SliceCount)];
        int count = Math.Min(MaxTiles, pool.Count);
        return [.. Enumerable.Range(0, count).Select(i => pool[count == 1 ? pool.Count / 2 : (int)Math.Round(i * (pool.Count - 1) / (double)(count - 1))]).Distinct()];
    }

    /// <summary>Renders and writes the montage (temporary file, then rename).</summary>
    public static void Write(
        string path, VolumeSlicer slicer, Func<int, float[,]> imageSlice, ReadOnlySpan<byte> labels, IReadOnlyList<string> classNames, string? orientation = null,
        IReadOnlyList<OverlayBox>? boxes = null)
    {
        var (rgb, width, height) = Render(slicer, imageSlice, labels, classNames, orientation, boxes);
        Png.WriteRgb(path, rgb, width, height);
    }

    /// <param name="imageSlice">The windowed grey values ([0, 1]) of a slice, as <see cref="VolumeSlicer.Slice(IO.NiftiImage, int)"/> lays it out; called only for the slices shown.</param>
    public static (byte[] Rgb, int Width, int Height) Render(
        VolumeSlicer slicer, Func<int, float[,]> imageSlice, ReadOnlySpan<byte> labels, IReadOnlyList<string> classNames, string? orientation = null,
        IReadOnlyList<OverlayBox>? boxes = null)
    {
        bool flipRows = orientation is { Length: 3 } && orientation[slicer.RowAxis] is 'A' or 'S';
        bool flipColumns = orientation is { Length: 3 } && orientation[slicer.ColumnAxis] is 'R' or 'A';
        var chosen = ChooseSlices(slicer, labels, boxes);
        double zoom = Math.Min((double)TileSize / slicer.Rows, (double)TileSize / slicer.Columns);
        int tileHeight = Math.Max(1, (int)Math.Round(slicer.Rows * zoom));
        int tileWidth = Math.Max(1, (int)Math.Round(slicer.Columns * zoom));
        int titleHeight = BitmapFont.GlyphHeight * Scale + 4;
        int columns = Math.Min(Columns, chosen.Length);
        int rows = (chosen.Length + columns - 1) / columns;
        int lineHeight = BitmapFont.GlyphHeight * Scale + 6;
        int legendColumns = Math.Max(1, (columns * (tileWidth + Margin)) / 240);
        int legendRows = (classNames.Count + legendColumns - 1) / legendColumns;
        int width = Margin + columns * (tileWidth + Margin);
        width = Math.Max(width, Margin + 240);
        int height = Margin + rows * (titleHeight + tileHeight + Margin) + legendRows * lineHeight + Margin;
        var rgb = new byte[width * height * 3];

        for (int t = 0; t < chosen.Length; t++)
        {
            int left = Margin + t % columns * (tileWidth + Margin);
            int top = Margin + t / columns * (titleHeight + tileHeight + Margin);
            BitmapFont.Draw(rgb, width, height, left, top, $"{AxisName(slicer.SliceAxis)}={chosen[t]}", (255, 255, 255), Scale);
            var image = imageSlice(chosen[t]);
            var label = LabelSlice(slicer, labels, chosen[t]);
            for (int y = 0; y < tileHeight; y++)
            {
                int sy = Math.Min(slicer.Rows - 1, (int)(y / zoom));
                if (flipRows)
                    sy = slicer.Rows - 1 - sy;
                for (int x = 0; x < tileWidth; x++)
                {
                    int sx = Math.Min(slicer.Columns - 1, (int)(x / zoom));
                    if (flipColumns)
                        sx = slicer.Columns - 1 - sx;
                    double grey = Math.Clamp(image[sy, sx], 0f, 1f) * 255;
                    double r = grey, g = grey, b = grey;
                    int c = label[sy, sx];
                    int edge = BoxEdge(boxes, chosen[t], sx, sy, 1 / zoom);
                    if (edge > 0)
                    {
                        var colour = Colour(edge);
                        (r, g, b) = (colour.R, colour.G, colour.B);
                    }
                    else if (c > 0)
                    {
                        var colour = Colour(c);
                        r = (1 - Alpha) * grey + Alpha * colour.R;
                        g = (1 - Alpha) * grey + Alpha * colour.G;
                        b = (1 - Alpha) * grey + Alpha * colour.B;
                    }
                    int i = ((top + titleHeight + y) * width + left + x) * 3;
                    rgb[i] = (byte)Math.Round(r);
                    rgb[i + 1] = (byte)Math.Round(g);
                    rgb[i + 2] = (byte)Math.Round(b);
                }
            }
        }

        int legendTop = Margin + rows * (titleHeight + tileHeight + Margin);
        int legendWidth = (width - Margin) / legendColumns;
        for (int c = 1; c <= classNames.Count; c++)
        {
            int left = Margin + (c - 1) % legendColumns * legendWidth;
            int top = legendTop + (c - 1) / legendColumns * lineHeight;
            var colour = Colour(c);
            int box = BitmapFont.GlyphHeight * Scale;
            for (int y = 0; y < box; y++)
                for (int x = 0; x < box; x++)
                {
                    int i = ((top + y) * width + left + x) * 3;
                    rgb[i] = colour.R;
                    rgb[i + 1] = colour.G;
                    rgb[i + 2] = colour.B;
                }
            BitmapFont.Draw(rgb, width, height, left + box + 6, top, $"{c} {classNames[c - 1]}", (255, 255, 255), Scale);
        }
        return (rgb, width, height);
    }

    /// <summary>The label of a box whose outline (about one tile pixel wide) passes through slice pixel (x, y), else 0.</summary>
    private static int BoxEdge(IReadOnlyList<OverlayBox>? boxes, int slice, int x, int y, double width)
    {
        if (boxes is null)
            return 0;
        double w = Math.Max(1, width);
        foreach (var box in boxes)
        {
            if (slice < box.SliceStart || slice > box.SliceEnd || x < box.X0 || x > box.X1 || y < box.Y0 || y > box.Y1)
                continue;
            if (x - box.X0 < w || box.X1 - x < w || y - box.Y0 < w || box.Y1 - y < w)
                return box.Label;
        }
        return 0;
    }

    private static int[,] LabelSlice(VolumeSlicer slicer, ReadOnlySpan<byte> labels, int index) => slicer.Slice(labels, index);

    private static string AxisName(int axis) => axis switch { 0 => "x", 1 => "y", _ => "z" };
}

/// <summary>A prompt box to outline: label (its colour), inclusive corners along the slice's columns (x) and rows (y), slice range.</summary>
public sealed record OverlayBox(int Label, int X0, int Y0, int X1, int Y1, int SliceStart, int SliceEnd);
