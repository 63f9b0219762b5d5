using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// Writes synthetic cases as raw CT NIfTI pairs laid out like Synapse's RawData: img/imgNNNN.nii.gz (int16 Hounsfield
/// units) and label/labelNNNN.nii.gz (uint8 class ids), x fastest so that the stored array is [slice, y, x] after
/// SAMed's transpose. Preparing them with the identity label map reproduces the synthetic Synapse layout exactly.
/// </summary>
public static class SyntheticNifti
{
    public const string ImageDirName = "img";
    public const string LabelDirName = "label";

    /// <summary>Field of view across the in-plane size, and slice spacing, in millimetres.</summary>
    public const float FieldOfViewMm = 384, SliceSpacingMm = 5;

    public static IReadOnlyList<PrepareCase> Write(string dir, IEnumerable<SyntheticCase> cases)
    {
        string imageDir = Path.Combine(dir, ImageDirName), labelDir = Path.Combine(dir, LabelDirName);
        Directory.CreateDirectory(imageDir);
        Directory.CreateDirectory(labelDir);
        var written = new List<PrepareCase>();
        foreach (var synthetic in cases)
        {
            string number = synthetic.Name.StartsWith("case", StringComparison.Ordinal) ? synthetic.Name[4..] : synthetic.Name;
            string imagePath = Path.Combine(imageDir, $"img{number}.nii.gz");
            string labelPath = Path.Combine(labelDir, $"label{number}.nii.gz");
            var (image, label) = ToNifti(synthetic);
            Nifti.Write(imagePath, image);
            Nifti.Write(labelPath, label);
            written.Add(new PrepareCase(synthetic.Name, imagePath, labelPath));
        }
        return written;
    }

    /// <summary>The image (int16 HU) and label (uint8) NIfTI images of one case.</summary>
    public static (NiftiImage Image, NiftiImage Label) ToNifti(SyntheticCase synthetic)
    {
        long[] shape = synthetic.Hounsfield.Shape;
        int depth = (int)shape[0], height = (int)shape[1], width = (int)shape[2];
        var geometry = Geometry(width, height);
        int[] niftiShape = [width, height, depth];
        var image = NiftiImage.Create(geometry, niftiShape, NiftiDataType.Int16, synthetic.Hounsfield.ToDouble());
        var label = NiftiImage.Create(geometry, niftiShape, NiftiDataType.UInt8, synthetic.Volume.Label.ToDouble());
        return (image, label);
    }

    private static NiftiHeader Geometry(int width, int height)
    {
        float dx = FieldOfViewMm / width, dy = FieldOfViewMm / height, dz = SliceSpacingMm;
        return new NiftiHeader
        {
            PixDim = [1, dx, dy, dz, 1, 1, 1, 1],
            XyztUnits = 2, // millimetres
            QformCode = 1,
            SformCode = 1,
            SRowX = [dx, 0, 0, 0],
            SRowY = [0, dy, 0, 0],
            SRowZ = [0, 0, dz, 0],
            Descrip = "SAMed.NET synthetic CT",
        };
    }
}
