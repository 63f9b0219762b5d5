using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// What <see cref="Write"/> produced: the layout, the training slice names, the test volume names, and the NIfTI pairs
/// of every case (empty unless asked for).
/// </summary>
public sealed record SyntheticDataset(
    SynapseLayout Layout, IReadOnlyList<string> TrainSlices, IReadOnlyList<string> TestVolumes, IReadOnlyList<PrepareCase> NiftiCases)
{
    /// <summary>
    /// Generates the synthetic cases and writes them in SAMed's layout: every slice of every training case as
    /// train_npz/caseNNNN_sliceKKK.npz (2D image and label) listed in train.txt, every test case as
    /// test_vol_h5/caseNNNN.npy.h5 listed in test_vol.txt (gzip-compressed with <paramref name="compressVolumes"/>).
    /// With <paramref name="niftiDir"/>, also every case (training and test) as raw CT NIfTI pairs (see <see cref="SyntheticNifti"/>).
    /// Existing files of the same names are replaced.
    /// </summary>
    public static SyntheticDataset Write(SynapseLayout layout, SyntheticOptions options, bool compressVolumes = false, string? niftiDir = null)
    {
        options.ThrowIfInvalid();
        Directory.CreateDirectory(layout.TrainDir);
        Directory.CreateDirectory(layout.TestDir);
        Directory.CreateDirectory(layout.ListDir);
        var trainSlices = new List<string>();
        var testVolumes = new List<string>();
        var niftiCases = new List<PrepareCase>();
        foreach (var synthetic in SyntheticVolumes.GenerateAll(options))
        {
            if (niftiDir is not null)
                niftiCases.AddRange(SyntheticNifti.Write(niftiDir, [synthetic]));
            if (synthetic.IsTraining)
                trainSlices.AddRange(WriteSlices(layout, synthetic));
            else
            {
                SynapseH5.Write(layout.TestVolumePath(synthetic.Name), synthetic.Volume, compressVolumes);
                testVolumes.Add(synthetic.Name);
            }
        }
        if (trainSlices.Count > 0)
            SynapseLayout.WriteList(layout.TrainListPath, trainSlices);
        if (testVolumes.Count > 0)
            SynapseLayout.WriteList(layout.TestListPath, testVolumes);
        return new SyntheticDataset(layout, trainSlices, testVolumes, niftiCases);
    }

    /// <summary>Slice k of a volume as SAMed's preprocessing names it: NAME_slice{k:000}.</summary>
    public static string SliceName(string caseName, int slice) => $"{caseName}_slice{slice:000}";

    private static List<string> WriteSlices(SynapseLayout layout, SyntheticCase synthetic)
    {
        var (image, label) = synthetic.Volume;
        int depth = (int)image.Shape[0];
        long height = image.Shape[1], width = image.Shape[2];
        int sliceBytes = checked((int)(height * width * sizeof(float)));
        var names = new List<string>(depth);
        for (int k = 0; k < depth; k++)
        {
            string name = SliceName(synthetic.Name, k);
            Npz.Write(layout.TrainSlicePath(name),
            [
                new("image", new NpyArray(NpyType.Float32, [height, width], image.Data.AsSpan(k * sliceBytes, sliceBytes).ToArray())),
                new("label", new NpyArray(NpyType.Float32, [height, width], label.Data.AsSpan(k * sliceBytes, sliceBytes).ToArray())),
            ]);
            names.Add(name);
        }
        return names;
    }
}
