using SAMed.Data;
using SAMed.Inference;
using SAMed.IO;
using SAMed.Tests.IO;
using SAMed.Tests.Reference;

namespace SAMed.Tests.Inference;

/// <summary>Overlay montages: real labels over real CT, slice choice, orientation and a valid PNG.</summary>
public class OverlayMontageTests
{
    [Fact]
    public void RealLabelsAreColouredOverTheCt()
    {
        var ct = Nifti.Read(SharedPaths.Data("totalseg-example", "ct_3mm.nii.gz"));
        var seg = Nifti.Read(SharedPaths.Data("totalseg-example", "seg_3mm.nii.gz"));
        var labels = seg.ToDouble().Select(v => (byte)LabelMap.TotalSegmentator.Map((int)v)).ToArray();
        var windowed = ct.ToFloat().Select(v => (Math.Clamp(v, -125f, 275f) + 125f) / 400f).ToArray();
        var slicer = new VolumeSlicer(ct.Shape[..3], 2);
        var names = ClassNames.For(8);

        var chosen = OverlayMontage.ChooseSlices(slicer, labels);
        Assert.InRange(chosen.Length, 2, OverlayMontage.MaxTiles);
        Assert.All(chosen, z => Assert.Contains(slicer.Slice(labels, z).Cast<int>(), v => v != 0));
        Assert.Equal(chosen.Order(), chosen);

        var (rgb, width, height) = OverlayMontage.Render(slicer, i => slicer.Slice(windowed, i), labels, names, ct.Orientation);
        Assert.Equal(width * height * 3, rgb.Length);
        var coloured = Enumerable.Range(0, width * height).Count(i => rgb[3 * i] != rgb[3 * i + 1] || rgb[3 * i + 1] != rgb[3 * i + 2]);
        Assert.True(coloured > 1000, $"only {coloured} coloured pixels");

        string path = Path.Combine(TestFiles.TempDirectory(), "overlay.png");
        OverlayMontage.Write(path, slicer, i => slicer.Slice(windowed, i), labels, names, ct.Orientation);
        PngTests.AssertValidRgbPng(File.ReadAllBytes(path));

        // Flipping for the radiological view mirrors the tiles, so the picture changes but not its size.
        var (plain, plainWidth, plainHeight) = OverlayMontage.Render(slicer, i => slicer.Slice(windowed, i), labels, names);
        Assert.Equal((width, height), (plainWidth, plainHeight));
        Assert.NotEqual(rgb, plain);
    }

    [Fact]
    public void WithoutLabelsSlicesAreSpreadOverTheVolume()
    {
        var slicer = new VolumeSlicer([4, 3, 30], 2);
        var chosen = OverlayMontage.ChooseSlices(slicer, new byte[4 * 3 * 30]);
        Assert.Equal(OverlayMontage.MaxTiles, chosen.Length);
        Assert.Equal(0, chosen[0]);
        Assert.Equal(29, chosen[^1]);
    }
}
