using System.Text.Json;
using SAMed.Data;
using SAMed.IO;
using SAMed.Tests.Reference;
using Xunit.Abstractions;

namespace SAMed.Tests.Data;

/// <summary>Every case in reference/resize/resize.json, made by scipy.ndimage itself.</summary>
public class NdimageReferenceTests(ITestOutputHelper output)
{
    private static string ResizeDir => SharedPaths.Reference("resize");

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(ResizeDir, "resize.json")));
        foreach (var entry in json.RootElement.GetProperty("cases").EnumerateArray())
        {
            string kind = entry.TryGetProperty("zoom", out _) ? "zoom"
                : entry.TryGetProperty("rotate", out _) ? "rotate"
                : throw new InvalidDataException($"resize.json: case {entry} is neither zoom nor rotate");
            data.Add(kind, entry.GetProperty("index").GetInt32());
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesScipy(string kind, int index)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(ResizeDir, "resize.json")));
        var entry = json.RootElement.GetProperty("cases").EnumerateArray()
            .Single(e => e.TryGetProperty(kind, out _) && e.GetProperty("index").GetInt32() == index);
        var input = ToMatrix(Npy.Read(Path.Combine(ResizeDir, entry.GetProperty("input").GetString()!)));
        var expected = Npy.Read(Path.Combine(ResizeDir, $"{kind}_{index:00}.npy"));
        int order = entry.GetProperty("order").GetInt32();

        float[,] actual;
        if (kind == "zoom")
        {
            var zoom = entry.GetProperty("zoom").EnumerateArray().Select(z => z.GetDouble()).ToArray();
            actual = Ndimage.Zoom(input, zoom[0], zoom[1], order);
            if (order == 0)
                Assert.Equal(actual, Ndimage.ZoomNearest(input, zoom[0], zoom[1]));
            var shape = entry.GetProperty("output_shape").EnumerateArray().Select(v => v.GetInt64()).ToArray();
            Assert.Equal(shape, expected.Shape);
        }
        else
        {
            Assert.Equal(0, order);
            Assert.False(entry.GetProperty("reshape").GetBoolean());
            actual = Ndimage.Rotate(input, entry.GetProperty("rotate").GetDouble());
        }

        Assert.Equal(expected.Shape, new long[] { actual.GetLength(0), actual.GetLength(1) });
        var want = expected.ToFloat();
        var got = actual.Cast<float>().ToArray();
        double tolerance = order == 3 ? 1e-4 : 0.0;
        int mismatches = 0;
        double worst = 0;
        for (int i = 0; i < want.Length; i++)
        {
            double error = Math.Abs((double)want[i] - got[i]);
            worst = Math.Max(worst, error);
            if (error > tolerance)
                mismatches++;
        }
        output.WriteLine($"{kind}_{index:00}: worst abs error {worst:E3} over {want.Length} values");
        Assert.True(mismatches == 0, $"{kind}_{index:00}: {mismatches} of {want.Length} values differ by more than {tolerance} (worst {worst})");
    }

    internal static float[,] ToMatrix(NpyArray array)
    {
        Assert.Equal(2, array.Shape.Length);
        var values = array.ToFloat();
        var matrix = new float[array.Shape[0], array.Shape[1]];
        Buffer.BlockCopy(values, 0, matrix, 0, values.Length * sizeof(float));
        return matrix;
    }
}
