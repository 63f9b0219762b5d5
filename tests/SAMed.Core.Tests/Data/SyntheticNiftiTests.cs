using SAMed.Data;
using SAMed.IO;

namespace SAMed.Tests.Data;

public sealed class SyntheticNiftiTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("synthetic-nifti-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void PairsHoldHounsfieldUnitsAndLabelsXFastest()
    {
        var synthetic = SyntheticVolumes.GenerateCase(new SyntheticOptions { Height = 32, Width = 40, MinSlices = 5, MaxSlices = 5 }, 0);
        var written = Assert.Single(SyntheticNifti.Write(_dir, [synthetic]));
        Assert.Equal("case0001", written.Name);
        Assert.EndsWith(Path.Combine("img", "img0001.nii.gz"), written.ImagePath);
        Assert.EndsWith(Path.Combine("label", "label0001.nii.gz"), written.LabelPath);

        var image = Nifti.Read(written.ImagePath);
        var label = Nifti.Read(written.LabelPath);
        Assert.Equal([40, 32, 5], image.Shape);
        Assert.Equal([40, 32, 5], label.Shape);
        Assert.Equal((NiftiDataType.Int16, NiftiDataType.UInt8), (image.DataType, label.DataType));
        Assert.Equal(synthetic.Hounsfield.ToFloat(), image.ToFloat());
        Assert.Equal(synthetic.Volume.Label.ToFloat(), label.ToFloat());
        Assert.Equal(SyntheticNifti.FieldOfViewMm / 40, image.VoxelSizes[0]);
        Assert.Equal(SyntheticNifti.SliceSpacingMm, image.VoxelSizes[2]);
    }

    [Fact]
    public void PreparingThePairsReproducesTheSyntheticLayout()
    {
        var options = new SyntheticOptions { TrainCases = 2, TestCases = 1, MinSlices = 6, MaxSlices = 9, Height = 48, Width = 48, Seed = 11 };
        var direct = new SynapseLayout(Path.Combine(_dir, "direct"));
        var dataset = SyntheticDataset.Write(direct, options, niftiDir: Path.Combine(_dir, "raw"));
        Assert.Equal(["case0001", "case0002", "case0003"], dataset.NiftiCases.Select(c => c.Name));

        var cases = PrepareCases.FromFolders(Path.Combine(_dir, "raw", "img"), Path.Combine(_dir, "raw", "label"));
        Assert.Equal(dataset.NiftiCases.Select(c => c.Name), cases.Select(c => c.Name));
        var prepared = new SynapseLayout(Path.Combine(_dir, "prepared"));
        Prepare.Run(cases, new PrepareOptions { OutputDir = prepared.Root, LabelMap = LabelMap.Identity, TestCases = ["case0003"] });

        Assert.Equal(direct.ReadTrainNames(), prepared.ReadTrainNames());
        Assert.Equal(direct.ReadTestNames(), prepared.ReadTestNames());
        foreach (string name in direct.ReadTrainNames())
        {
            var expected = Npz.Read(direct.TrainSlicePath(name), "image", "label");
            var actual = Npz.Read(prepared.TrainSlicePath(name), "image", "label");
            Assert.Equal(expected[0].Data, actual[0].Data);
            Assert.Equal(expected[1].Data, actual[1].Data);
        }
        var expectedVolume = SynapseH5.Read(direct.TestVolumePath("case0003"));
        var actualVolume = SynapseH5.Read(prepared.TestVolumePath("case0003"));
        Assert.Equal(expectedVolume.Image.Data, actualVolume.Image.Data);
        Assert.Equal(expectedVolume.Label.Data, actualVolume.Label.Data);
    }
}
