using SAMed.IO;

namespace SAMed.Tests.Data;

/// <summary>A temporary train_npz folder and list file of small slices written with Npz.Write.</summary>
public sealed class SyntheticSlices : IDisposable
{
    public SyntheticSlices(int count, int height = 20, int width = 24, int classes = 8)
    {
        Root = Path.Combine(Path.GetTempPath(), $"samed-data-{Guid.NewGuid():N}");
        Directory.CreateDirectory(DataDirectory);
        Names = Enumerable.Range(0, count).Select(i => $"case{i / 10 + 1:0000}_slice{i % 10:000}").ToArray();
        for (int i = 0; i < count; i++)
        {
            var (image, label) = Slice(i, height, width, classes);
            Write(Names[i], NpyArray.FromFloat32(image, height, width), NpyArray.FromFloat32(label, height, width));
        }
        File.WriteAllLines(ListFile, Names);
    }

    public string Root { get; }
    public string DataDirectory => Path.Combine(Root, "train_npz");
    public string ListFile => Path.Combine(Root, "train.txt");
    public string[] Names { get; }

    public string PathOf(string name) => Path.Combine(DataDirectory, name + ".npz");

    public void Write(string name, NpyArray image, NpyArray label) =>
        Npz.Write(PathOf(name), [new("image", image), new("label", label)]);

    /// <summary>Image values in [0, 1) that differ per slice; labels are blocks of classes 0..classes.</summary>
    public static (float[] Image, float[] Label) Slice(int index, int height, int width, int classes)
    {
        var image = new float[height * width];
        var label = new float[height * width];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                image[y * width + x] = ((index * 7919 + y * 31 + x * 17) % 1000) / 1000f;
                label[y * width + x] = (y / 4 + x / 6 + index) % (classes + 1);
            }
        }
        return (image, label);
    }

    public void Dispose()
    {
        if (Directory.Exists(Root))
            Directory.Delete(Root, recursive: true);
    }
}
