namespace SAMed.IO;

/// <summary>The NIfTI-1 voxel-to-world transforms (nifti1.h "methods" 1 to 3) and orientation codes.</summary>
public static class NiftiAffine
{
    /// <summary>sform when sform_code &gt; 0, else qform when qform_code &gt; 0, else diag(pixdim[1..3]) with no offset.</summary>
    public static double[,] Best(NiftiHeader header)
    {
        if (header.SformCode > 0)
            return Sform(header);
        if (header.QformCode > 0)
            return Qform(header);
        return Diagonal(header);
    }

    /// <summary>The affine whose rows are srow_x, srow_y, srow_z and [0, 0, 0, 1].</summary>
    public static double[,] Sform(NiftiHeader header)
    {
        var affine = Identity();
        for (int j = 0; j < 4; j++)
        {
            affine[0, j] = header.SRowX[j];
            affine[1, j] = header.SRowY[j];
            affine[2, j] = header.SRowZ[j];
        }
        return affine;
    }

    /// <summary>
    /// The qform affine: rotation from the quaternion (b, c, d; a = sqrt(1 - b² - c² - d²)), times diag(dx, dy, qfac·dz),
    /// plus qoffset. qfac is -1 when pixdim[0] &lt; 0, else 1; non-positive voxel sizes count as 1, as nifti1_io does.
    /// </summary>
    public static double[,] Qform(NiftiHeader header)
    {
        double b = header.QuaternB, c = header.QuaternC, d = header.QuaternD;
        double a = 1.0 - (b * b + c * c + d * d);
        if (a < 1e-7)
        {
            // The quaternion is (nearly) a 180° rotation: renormalise b, c, d and set a to 0.
            double norm = 1.0 / Math.Sqrt(b * b + c * c + d * d);
            b *= norm;
            c *= norm;
            d *= norm;
            a = 0;
        }
        else
        {
            a = Math.Sqrt(a);
        }

        double dx = header.PixDim[1] > 0 ? header.PixDim[1] : 1;
        double dy = header.PixDim[2] > 0 ? header.PixDim[2] : 1;
        double dz = header.PixDim[3] > 0 ? header.PixDim[3] : 1;
        if (header.PixDim[0] < 0)
            dz = -dz;

        var affine = Identity();
        affine[0, 0] = (a * a + b * b - c * c - d * d) * dx;
        affine[0, 1] = 2 * (b * c - a * d) * dy;
        affine[0, 2] = 2 * (b * d + a * c) * dz;
        affine[1, 0] = 2 * (b * c + a * d) * dx;
        affine[1, 1] = (a * a + c * c - b * b - d * d) * dy;
        affine[1, 2] = 2 * (c * d - a * b) * dz;
        affine[2, 0] = 2 * (b * d - a * c) * dx;
        affine[2, 1] = 2 * (c * d + a * b) * dy;
        affine[2, 2] = (a * a + d * d - c * c - b * b) * dz;
        affine[0, 3] = header.QOffsetX;
        affine[1, 3] = header.QOffsetY;
        affine[2, 3] = header.QOffsetZ;
        return affine;
    }

    /// <summary>Method 1 (no qform or sform): diag(pixdim[1], pixdim[2], pixdim[3], 1).</summary>
    public static double[,] Diagonal(NiftiHeader header)
    {
        var affine = Identity();
        for (int i = 0; i < 3; i++)
            affine[i, i] = header.PixDim[i + 1];
        return affine;
    }

    /// <summary>
    /// The world direction (RAS+ scanner axes) each voxel axis points to, e.g. "LAS": axis x runs to the patient's left.
    /// Each voxel axis takes the world axis its column leans on most, assigning the strongest pairs first;
    /// an axis whose column is zero (no direction) gets '?'.
    /// </summary>
    public static string AxisCodes(double[,] affine)
    {
        var column = new double[3, 3];
        var codes = new char[3];
        var worldUsed = new bool[3];
        var voxelDone = new bool[3];
        for (int j = 0; j < 3; j++)
        {
            double norm = Math.Sqrt(Enumerable.Range(0, 3).Sum(i => affine[i, j] * affine[i, j]));
            if (norm == 0 || !double.IsFinite(norm))
            {
                codes[j] = '?';
                voxelDone[j] = true;
                continue;
            }
            for (int i = 0; i < 3; i++)
                column[i, j] = affine[i, j] / norm;
        }

        for (int step = voxelDone.Count(done => done); step < 3; step++)
        {
            int bestWorld = -1, bestVoxel = -1;
            double best = -1;
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    if (!worldUsed[i] && !voxelDone[j] && Math.Abs(column[i, j]) > best)
                        (best, bestWorld, bestVoxel) = (Math.Abs(column[i, j]), i, j);
            worldUsed[bestWorld] = true;
            voxelDone[bestVoxel] = true;
            bool positive = column[bestWorld, bestVoxel] > 0;
            codes[bestVoxel] = bestWorld switch
            {
                0 => positive ? 'R' : 'L',
                1 => positive ? 'A' : 'P',
                _ => positive ? 'S' : 'I',
            };
        }
        return new string(codes);
    }

    private static double[,] Identity()
    {
        var affine = new double[4, 4];
        for (int i = 0; i < 4; i++)
            affine[i, i] = 1;
        return affine;
    }
}
