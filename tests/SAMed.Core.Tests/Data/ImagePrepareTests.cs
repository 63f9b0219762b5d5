using SAMed.Data;
using SAMed.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace SAMed.Tests.Data;

/// <summary>prepare on folders of 2D images and masks: the SAMed layout, colour kept, the split, and bad input named.</summary>
public sealed class ImagePrepareTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("image-prepare-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string Images => Path.Combine(root, "images");
    private string Masks => Path.Combine(root, "masks");

    private static byte[] Pattern(int count, int seed) => [.. Enumerable.Range(0, count).Select(i => (byte)((i * 37 + seed * 11) % 256))];

    private static int[,] Labels(int height, int width) =>
        Fill(height, width, (y, x) => y < height / 2 ? 0 : x < width / 2 ? 1 : 2);

    private static int[,] Fill(int height, int width, Func<int, int, int> value)
    {
        var labels = new int[height, width];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                labels[y, x] = value(y, x);
        return labels;
    }

    private void WriteRgb(string path, byte[] rgb, int width, int height)
    {
        using var image = Image.LoadPixelData<Rgb24>(rgb, width, height);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        image.Save(path);
    }

    private void WriteGrey(string path, byte[] grey, int width, int height)
    {
        using var image = Image.LoadPixelData<L8>(grey, width, height);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        image.Save(path);
    }

    private PrepareSummary Run(PrepareOptions? options = null) =>
        Prepare.Run(ImageCases.FromFolders(Images, Masks), options ?? new PrepareOptions { OutputDir = Path.Combine(root, "out"), LabelMap = LabelMap.Identity });

    [Fact]
    public void ColourImagesKeepThreeChannelsAndGreyImagesOne()
    {
        byte[] rgb = Pattern(6 * 8 * 3, 1), grey = Pattern(6 * 8, 2);
        WriteRgb(Path.Combine(Images, "colour.png"), rgb, 8, 6);
        WriteGrey(Path.Combine(Images, "grey.png"), grey, 8, 6);
        ImageFile.WriteLabels(Path.Combine(Masks, "colour_mask.png"), Labels(6, 8));
        ImageFile.WriteLabels(Path.Combine(Masks, "grey.png"), Labels(6, 8));
        string output = Path.Combine(root, "out");

        var summary = Run(new PrepareOptions { OutputDir = output, LabelMap = LabelMap.Identity, TestCases = ["grey"], TestCasesAlsoTrain = true });

        Assert.Equal(2, summary.TrainSlices);
        Assert.Equal(["colour", "grey"], File.ReadAllLines(Path.Combine(output, "train.txt")));
        Assert.Equal(["grey"], File.ReadAllLines(Path.Combine(output, "test_vol.txt")));
        var colour = Npz.Read(Path.Combine(output, "train_npz", "colour.npz"));
        Assert.Equal([6L, 8L, 3L], colour["image"].Shape);
        Assert.Equal(rgb.Select(v => v / 255f), colour["image"].ToFloat());
        Assert.Equal([6L, 8L], colour["label"].Shape);
        Assert.Equal(Labels(6, 8).Cast<int>().Select(v => (float)v), colour["label"].ToFloat());
        var greySlice = Npz.Read(Path.Combine(output, "train_npz", "grey.npz"));
        Assert.Equal([6L, 8L], greySlice["image"].Shape);
        Assert.Equal(grey.Select(v => v / 255f), greySlice["image"].ToFloat());
        var volume = SynapseH5.Read(Path.Combine(output, "test_vol_h5", "grey.npy.h5"));
        Assert.Equal([1L, 6L, 8L], volume.Image.Shape);
        Assert.Equal([1L, 6L, 8L], volume.Label.Shape);
        Assert.True(DatasetValidator.Validate(new SynapseLayout(output), 2).IsValid);

        // The dataset reads the colour slice back as three planes, R, G and B.
        var dataset = new SynapseDataset(Path.Combine(output, "train_npz"), Path.Combine(output, "train.txt"), new RandomGenerator(8, 2));
        var (planes, _) = dataset.ReadSlice(0);
        Assert.Equal(3, planes.Length);
        for (int c = 0; c < 3; c++)
            Assert.Equal(rgb[c] / 255f, planes[c][0, 0]);
    }

    [Fact]
    public void ColourTestImagesAreStoredChannelsLastAndTrainSizeZoomsEveryChannel()
    {
        byte[] rgb = Pattern(10 * 12 * 3, 3);
        WriteRgb(Path.Combine(Images, "a.png"), rgb, 12, 10);
        ImageFile.WriteLabels(Path.Combine(Masks, "a.png"), Labels(10, 12));
        string output = Path.Combine(root, "out");
        Run(new PrepareOptions { OutputDir = output, LabelMap = LabelMap.Identity, TestCases = ["a"], TestCasesAlsoTrain = true, TrainSize = 16 });

        var volume = SynapseH5.Read(Path.Combine(output, "test_vol_h5", "a.npy.h5"));
        Assert.Equal([1L, 10L, 12L, 3L], volume.Image.Shape);
        Assert.Equal(rgb.Select(v => v / 255f), volume.Image.ToFloat());
        var slice = Npz.Read(Path.Combine(output, "train_npz_16", "a.npz"));
        Assert.Equal([16L, 16L, 3L], slice["image"].Shape);
        var green = new float[10, 12];
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 12; x++)
                green[y, x] = rgb[(y * 12 + x) * 3 + 1] / 255f;
        var zoomed = Ndimage.ZoomTo(green, 16, 16, order: 3);
        var stored = slice["image"].ToFloat();
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
                Assert.Equal(zoomed[y, x], stored[(y * 16 + x) * 3 + 1]);
    }

    [Fact]
    public void BinaryMasksAndColourMapsGiveClassIds()
    {
        WriteGrey(Path.Combine(Images, "b.png"), Pattern(4 * 4, 1), 4, 4);
        WriteGrey(Path.Combine(Masks, "b.png"), [0, 255, 250, 3, 128, 127, 0, 0, 255, 255, 0, 0, 0, 0, 0, 129], 4, 4);
        var volume = Prepare.Load(ImageCases.FromFolders(Images, Masks)[0], new PrepareOptions { OutputDir = root, BinaryMasks = true });
        Assert.Equal([0f, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1], volume.Label);

        WriteRgb(Path.Combine(Masks, "b.png"), [.. Enumerable.Repeat<byte[]>([255, 0, 0], 8).SelectMany(p => p), .. Enumerable.Repeat<byte[]>([0, 0, 0], 8).SelectMany(p => p)], 4, 4);
        string map = Path.Combine(root, "colours.json");
        File.WriteAllText(map, """{ "#ff0000": 2, "0,0,0": 0 }""");
        volume = Prepare.Load(ImageCases.FromFolders(Images, Masks)[0], new PrepareOptions { OutputDir = root, MaskColors = MaskColors.FromJson(map) });
        Assert.Equal([.. Enumerable.Repeat(2f, 8), .. Enumerable.Repeat(0f, 8)], volume.Label);
    }

    [Fact]
    public void SixteenBitGreyMasksAreLabelValues()
    {
        WriteGrey(Path.Combine(Images, "s.png"), Pattern(2 * 3, 1), 3, 2);
        ImageFile.WriteLabels(Path.Combine(Masks, "s.png"), new int[,] { { 0, 1, 300 }, { 2, 0, 300 } });
        Assert.Equal(16, ImageFile.Read(Path.Combine(Masks, "s.png")).BitDepth);
        var volume = Prepare.Load(ImageCases.FromFolders(Images, Masks)[0], new PrepareOptions { OutputDir = root, LabelMap = LabelMap.Identity });
        Assert.Equal([0f, 1, 300, 2, 0, 300], volume.Label);
    }

    [Fact]
    public void MasksAreMatchedByNameAndSuffix()
    {
        foreach (string name in new[] { "ISIC_1", "benign (1)", "k" })
            WriteGrey(Path.Combine(Images, name + (name == "k" ? ".jpg" : ".png")), Pattern(16, 1), 4, 4);
        ImageFile.WriteLabels(Path.Combine(Masks, "ISIC_1_segmentation.png"), new int[4, 4]);
        ImageFile.WriteLabels(Path.Combine(Masks, "benign (1)_mask.png"), new int[4, 4]);
        ImageFile.WriteLabels(Path.Combine(Masks, "k.png"), new int[4, 4]);
        var cases = ImageCases.FromFolders(Images, Masks);
        Assert.Equal(["ISIC_1", "benign__1_", "k"], cases.Select(c => c.Name));
        Assert.Equal(["ISIC_1_segmentation.png", "benign (1)_mask.png", "k.png"], cases.Select(c => Path.GetFileName(c.LabelPath)));
        var jpeg = Prepare.Load(cases[2], new PrepareOptions { OutputDir = root, LabelMap = LabelMap.Identity });
        Assert.Equal(1, jpeg.Channels);
    }

    [Fact]
    public void AnImageWithoutMaskIsNamed()
    {
        WriteGrey(Path.Combine(Images, "lonely.png"), Pattern(16, 1), 4, 4);
        Directory.CreateDirectory(Masks);
        var e = Assert.Throws<InvalidDataException>(() => ImageCases.FromFolders(Images, Masks));
        Assert.StartsWith(Path.Combine(Images, "lonely.png") + ": no mask", e.Message);
    }

    [Fact]
    public void AnUnreadableImageIsOneLineNamingTheFile()
    {
        Directory.CreateDirectory(Images);
        File.WriteAllText(Path.Combine(Images, "broken.png"), "not a png");
        ImageFile.WriteLabels(Path.Combine(Masks, "broken.png"), new int[4, 4]);
        string output = Path.Combine(root, "out");
        var e = Assert.Throws<InvalidDataException>(() => Run(new PrepareOptions { OutputDir = output }));
        Assert.StartsWith(Path.Combine(Images, "broken.png") + ": not a readable PNG, JPEG, BMP or TIFF image", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void AMaskOfAnotherSizeIsNamedBeforeAnythingIsWritten()
    {
        WriteGrey(Path.Combine(Images, "a.png"), Pattern(16, 1), 4, 4);
        ImageFile.WriteLabels(Path.Combine(Masks, "a.png"), new int[4, 4]);
        WriteGrey(Path.Combine(Images, "b.png"), Pattern(16, 1), 4, 4);
        ImageFile.WriteLabels(Path.Combine(Masks, "b.png"), new int[4, 5]);
        string output = Path.Combine(root, "out");
        var e = Assert.Throws<InvalidDataException>(() => Run(new PrepareOptions { OutputDir = output, LabelMap = LabelMap.Identity }));
        Assert.Equal($"{Path.Combine(Masks, "b.png")}: mask is 5 x 4 pixels but its image {Path.Combine(Images, "b.png")} is 4 x 4", e.Message);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void AColourNotInTheMapIsNamedWithItsPixel()
    {
        WriteGrey(Path.Combine(Images, "c.png"), Pattern(4, 1), 2, 2);
        WriteRgb(Path.Combine(Masks, "c.png"), [0, 0, 0, 255, 0, 0, 0, 0, 0, 9, 9, 200], 2, 2);
        string map = Path.Combine(root, "colours.json");
        File.WriteAllText(map, """{ "#ff0000": 1 }""");
        var e = Assert.Throws<InvalidDataException>(() =>
            Prepare.Load(ImageCases.FromFolders(Images, Masks)[0], new PrepareOptions { OutputDir = root, MaskColors = MaskColors.FromJson(map) }));
        Assert.Equal($"{Path.Combine(Masks, "c.png")}: colour #0909c8 (9,9,200) at pixel (x=1, y=1) is not in the colour map 'colours'", e.Message);
    }

    [Fact]
    public void AColourMaskWithoutMapSaysWhatToDo()
    {
        WriteGrey(Path.Combine(Images, "c.png"), Pattern(4, 1), 2, 2);
        WriteRgb(Path.Combine(Masks, "c.png"), [0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0], 2, 2);
        var e = Assert.Throws<InvalidDataException>(() =>
            Prepare.Load(ImageCases.FromFolders(Images, Masks)[0], new PrepareOptions { OutputDir = root, LabelMap = LabelMap.Identity }));
        Assert.StartsWith($"{Path.Combine(Masks, "c.png")}: is a colour mask, e.g. #ff0000 (255,0,0) at pixel (x=1, y=0); give a colour map (--mask-colors", e.Message);
    }

    [Fact]
    public void PaletteMasksAreReadThroughTheirColours()
    {
        WriteGrey(Path.Combine(Images, "p.png"), Pattern(4, 1), 2, 2);
        using (var mask = Image.LoadPixelData<Rgb24>(new byte[] { 0, 0, 0, 128, 0, 0, 0, 128, 0, 0, 0, 0 }, 2, 2))
        {
            Directory.CreateDirectory(Masks);
            mask.SaveAsPng(Path.Combine(Masks, "p.png"), new PngEncoder { ColorType = PngColorType.Palette });
        }
        var pair = ImageCases.FromFolders(Images, Masks)[0];
        var e = Assert.Throws<InvalidDataException>(() => Prepare.Load(pair, new PrepareOptions { OutputDir = root, LabelMap = LabelMap.Identity }));
        Assert.StartsWith($"{pair.LabelPath}: is a palette PNG with colours (the palette index is not read)", e.Message);

        string map = Path.Combine(root, "voc.json");
        File.WriteAllText(map, """{ "#800000": 1, "#008000": 2 }""");
        var volume = Prepare.Load(pair, new PrepareOptions { OutputDir = root, MaskColors = MaskColors.FromJson(map) });
        Assert.Equal([0f, 1, 2, 0], volume.Label);
    }
}
