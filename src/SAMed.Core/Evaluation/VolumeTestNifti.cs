using System.Runtime.InteropServices;
using SAMed.Data;
using SAMed.IO;

namespace SAMed.Evaluation;

/// <summary>
/// Writes a tested volume as test_single_volume does with a save path: CASE_pred.nii.gz, CASE_img.nii.gz and
/// CASE_gt.nii.gz. The [z, y, x] arrays become NIfTI [x, y, z] images; the geometry is the source NIfTI's when the
/// volume came from one, otherwise what SimpleITK writes for SAMed (spacing (1, 1, z_spacing = 1), ITK's identity
/// direction in LPS, i.e. the affine diag(-1, -1, 1)). The image is float32, prediction and labels uint8.
/// </summary>
public static class VolumeTestNifti
{
    public static void Save(string directory, PreparedVolume volume, ReadOnlySpan<int> prediction, ReadOnlySpan<int> labels)
    {
        Directory.CreateDirectory(directory);
        var header = volume.Geometry ?? SamedHeader();
        int[] shape = [volume.Width, volume.Height, volume.Depth];
        // Each file is built straight in its stored type (one byte a voxel for the label maps, the float32 image as is).
        Nifti.Write(Path.Combine(directory, volume.Name + "_pred.nii.gz"),
            NiftiImage.FromStored(header, shape, NiftiDataType.UInt8, ToUInt8(prediction, volume.Name + "_pred")));
        Nifti.Write(Path.Combine(directory, volume.Name + "_img.nii.gz"),
            NiftiImage.FromStored(header, shape, NiftiDataType.Float32, MemoryMarshal.AsBytes(volume.Image.AsSpan()).ToArray()));
        Nifti.Write(Path.Combine(directory, volume.Name + "_gt.nii.gz"),
            NiftiImage.FromStored(header, shape, NiftiDataType.UInt8, ToUInt8(labels, volume.Name + "_gt")));
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

    private static byte[] ToUInt8(ReadOnlySpan<int> values, string name)
    {
        var result = new byte[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            if ((uint)values[i] > byte.MaxValue)
                throw new ArgumentException($"{name}: value {values[i]} at voxel {i} is not representable as UInt8");
            result[i] = (byte)values[i];
        }
        return result;
    }
}
