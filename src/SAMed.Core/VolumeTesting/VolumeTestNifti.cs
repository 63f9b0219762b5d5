using SAMed.Data;
using SAMed.IO;

namespace SAMed.VolumeTesting;

/// <summary>
/// Writes a tested volume as test_single_volume does with a save path: CASE_pred.nii.gz, CASE_img.nii.gz and
/// CASE_gt.nii.gz. The [z, y, x] arrays become NIfTI [x, y, z] images; the geometry is the source NIfTI's when the
/// volume came from one, otherwise what SimpleITK writes for SAMed (spacing (1, 1, z_spacing = 1), ITK's identity
/// direction in LPS, i.e. the affine diag(-1, -1, 1)). The image is float32, prediction and labels uint8.
/// </summary>
public static class VolumeTestNifti
{
    /// <summary>
    /// Writes the three files of a tested volume; each through <see cref="AtomicFile"/> (a failure leaves no partial
    /// file under its name). The label maps are written from their byte arrays, the image row by row as the model saw it.
    /// </summary>
    public static void Save(string directory, StoredVolume volume, byte[] prediction)
    {
        if (volume.Channels != 1)
            throw new NotSupportedException($"{volume.Name}: NIfTI files are written for grey volumes; this one has {volume.Channels} image channels");
        Directory.CreateDirectory(directory);
        var header = volume.Geometry ?? SamedHeader();
        int[] shape = [volume.Width, volume.Height, volume.Depth];
        Nifti.Write(Path.Combine(directory, volume.Name + "_pred.nii.gz"), NiftiImage.FromStored(header, shape, NiftiDataType.UInt8, prediction));
        Nifti.Write(Path.Combine(directory, volume.Name + "_img.nii.gz"), header, shape, NiftiDataType.Float32, volume.WriteImageFloat32);
        Nifti.Write(Path.Combine(directory, volume.Name + "_gt.nii.gz"), NiftiImage.FromStored(header, shape, NiftiDataType.UInt8, volume.Labels));
    }

    /// <summary>Unit voxels in mm, qform and sform both diag(-1, -1, 1) with code 1 (scanner), as SimpleITK writes them.</summary>
    public static NiftiHeader SamedHeader() => new()
    {
        PixDim = [1, 1, 1, 1, 1, 1, 1, 1],
        XyztUnits = 2,
        QformCode = 1,
        SformCode = 1,
        QuaternB = 0,
        QuaternC = 0,
        QuaternD = 1,
        SRowX = [-1, 0, 0, 0],
        SRowY = [0, -1, 0, 0],
        SRowZ = [0, 0, 1, 0],
        DataType = (short)NiftiDataType.Float32,
        BitPix = 32,
    };
}
