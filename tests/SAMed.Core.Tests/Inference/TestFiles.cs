using SAMed.Data;
using SAMed.Inference;

namespace SAMed.Tests.Inference;

/// <summary>Temporary folders, synthetic test volumes and fake segmenters for the inference and volume-testing tests.</summary>
internal static class TestFiles
{
    private static readonly string Root = CreateRoot();

    /// <summary>A new empty folder under this test run's root, which is deleted when the test process exits.</summary>
    public static string TempDirectory()
    {
        string path = Path.Combine(Root, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    private static string CreateRoot()
    {
        string root = Path.Combine(Path.GetTempPath(), "samed-infer-tests", $"{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return root;
    }

    /// <summary>
    /// A [6, 20, 24] volume with classes 1..3 as boxes (class 3 only when <paramref name="withClass3"/>), and the image
    /// = label / 10 so an <see cref="IntensitySegmenter"/> reads the labels back exactly.
    /// </summary>
    public static PreparedVolume Volume(string name, bool withClass3 = true, int depth = 6, int height = 20, int width = 24)
    {
        var label = new float[depth * height * width];
        void Box(int c, int z0, int z1, int y0, int y1, int x0, int x1)
        {
            for (int z = z0; z < Math.Min(z1, depth); z++)
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++)
                        label[(z * height + y) * width + x] = c;
        }
        Box(1, 1, 5, 2, 8, 2, 9);
        Box(2, 0, depth, 10, 17, 12, 21);
        if (withClass3)
            Box(3, 2, 4, 3, 6, 15, 19);
        var image = label.Select(v => v / 10f).ToArray();
        return new PreparedVolume(name, depth, height, width, image, label, $"{name}.npy.h5");
    }
}

/// <summary>Reads labels back from images made as label / 10, then applies an optional change to each label map.</summary>
internal sealed class IntensitySegmenter(int numClasses, Func<int[,], int[,]>? change = null) : ISliceSegmenter
{
    public int NumClasses { get; } = numClasses;

    public int Calls { get; private set; }

    public IReadOnlyList<int[,]> Segment(IReadOnlyList<float[,]> slices)
    {
        Calls++;
        return [.. slices.Select(slice =>
        {
            int h = slice.GetLength(0), w = slice.GetLength(1);
            var labels = new int[h, w];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    labels[y, x] = (int)MathF.Round(slice[y, x] * 10);
            return change is null ? labels : change(labels);
        })];
    }

    /// <summary>Moves class <paramref name="c"/> one column to the left.</summary>
    public static int[,] ShiftLeft(int[,] labels, int c)
    {
        int h = labels.GetLength(0), w = labels.GetLength(1);
        var result = new int[h, w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int right = x + 1 < w ? labels[y, x + 1] : 0;
                result[y, x] = right == c ? c : labels[y, x] == c ? 0 : labels[y, x];
            }
        return result;
    }

    public static int[,] Replace(int[,] labels, int from, int to)
    {
        var result = (int[,])labels.Clone();
        for (int y = 0; y < labels.GetLength(0); y++)
            for (int x = 0; x < labels.GetLength(1); x++)
                if (result[y, x] == from)
                    result[y, x] = to;
        return result;
    }
}
