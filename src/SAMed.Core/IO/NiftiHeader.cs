using System.Buffers.Binary;
using System.Text;

namespace SAMed.IO;

/// <summary>
/// Every field of a NIfTI-1 header (the 348-byte nifti_1_header struct), named as in nifti1.h.
/// Arrays have the struct's lengths: Dim and PixDim 8, SRowX/Y/Z 4.
/// </summary>
public sealed record NiftiHeader
{
    public const int Size = 348;

    public string DataTypeName { get; init; } = "";
    public string DbName { get; init; } = "";
    public int Extents { get; init; }
    public short SessionError { get; init; }
    public byte Regular { get; init; }
    public byte DimInfo { get; init; }
    public short[] Dim { get; init; } = [0, 1, 1, 1, 1, 1, 1, 1];
    public float IntentP1 { get; init; }
    public float IntentP2 { get; init; }
    public float IntentP3 { get; init; }
    public short IntentCode { get; init; }
    public short DataType { get; init; }
    public short BitPix { get; init; }
    public short SliceStart { get; init; }
    public float[] PixDim { get; init; } = [1, 1, 1, 1, 1, 1, 1, 1];
    public float VoxOffset { get; init; } = 352;
    public float SclSlope { get; init; }
    public float SclInter { get; init; }
    public short SliceEnd { get; init; }
    public byte SliceCode { get; init; }
    public byte XyztUnits { get; init; }
    public float CalMax { get; init; }
    public float CalMin { get; init; }
    public float SliceDuration { get; init; }
    public float TOffset { get; init; }
    public int GlMax { get; init; }
    public int GlMin { get; init; }
    public string Descrip { get; init; } = "";
    public string AuxFile { get; init; } = "";
    public short QformCode { get; init; }
    public short SformCode { get; init; }
    public float QuaternB { get; init; }
    public float QuaternC { get; init; }
    public float QuaternD { get; init; }
    public float QOffsetX { get; init; }
    public float QOffsetY { get; init; }
    public float QOffsetZ { get; init; }
    public float[] SRowX { get; init; } = [1, 0, 0, 0];
    public float[] SRowY { get; init; } = [0, 1, 0, 0];
    public float[] SRowZ { get; init; } = [0, 0, 1, 0];
    public string IntentName { get; init; } = "";
    public string Magic { get; init; } = "n+1";

    /// <summary>The image's number of dimensions (dim[0]).</summary>
    public int Rank => Dim[0];

    /// <summary>dim[1..dim[0]]: the voxel grid as stored on disk (x fastest).</summary>
    public int[] Shape => [.. Dim.Skip(1).Take(Rank).Select(d => (int)d)];

    /// <summary>A deep copy, so that changing a copy's arrays never changes this header.</summary>
    public NiftiHeader DeepCopy() => this with
    {
        Dim = (short[])Dim.Clone(),
        PixDim = (float[])PixDim.Clone(),
        SRowX = (float[])SRowX.Clone(),
        SRowY = (float[])SRowY.Clone(),
        SRowZ = (float[])SRowZ.Clone(),
    };

    /// <summary>Parses a header in either byte order; <paramref name="bigEndian"/> tells which one the file used.</summary>
    public static NiftiHeader Parse(ReadOnlySpan<byte> bytes, string source, out bool bigEndian)
    {
        if (bytes.Length < Size)
            throw new InvalidDataException($"{source}: truncated NIfTI header ({bytes.Length} of {Size} bytes)");
        int little = BinaryPrimitives.ReadInt32LittleEndian(bytes);
        int big = BinaryPrimitives.ReadInt32BigEndian(bytes);
        if (little == Size)
            bigEndian = false;
        else if (big == Size)
            bigEndian = true;
        else
            throw new InvalidDataException($"{source}: not a NIfTI-1 file (sizeof_hdr is {little}, must be {Size})");

        var reader = new FieldReader(bytes, bigEndian);
        var header = new NiftiHeader
        {
            DataTypeName = reader.Text(4, 10),
            DbName = reader.Text(14, 18),
            Extents = reader.Int32(32),
            SessionError = reader.Int16(36),
            Regular = bytes[38],
            DimInfo = bytes[39],
            Dim = reader.Int16s(40, 8),
            IntentP1 = reader.Float(56),
            IntentP2 = reader.Float(60),
            IntentP3 = reader.Float(64),
            IntentCode = reader.Int16(68),
            DataType = reader.Int16(70),
            BitPix = reader.Int16(72),
            SliceStart = reader.Int16(74),
            PixDim = reader.Floats(76, 8),
            VoxOffset = reader.Float(108),
            SclSlope = reader.Float(112),
            SclInter = reader.Float(116),
            SliceEnd = reader.Int16(120),
            SliceCode = bytes[122],
            XyztUnits = bytes[123],
            CalMax = reader.Float(124),
            CalMin = reader.Float(128),
            SliceDuration = reader.Float(132),
            TOffset = reader.Float(136),
            GlMax = reader.Int32(140),
            GlMin = reader.Int32(144),
            Descrip = reader.Text(148, 80),
            AuxFile = reader.Text(228, 24),
            QformCode = reader.Int16(252),
            SformCode = reader.Int16(254),
            QuaternB = reader.Float(256),
            QuaternC = reader.Float(260),
            QuaternD = reader.Float(264),
            QOffsetX = reader.Float(268),
            QOffsetY = reader.Float(272),
            QOffsetZ = reader.Float(276),
            SRowX = reader.Floats(280, 4),
            SRowY = reader.Floats(296, 4),
            SRowZ = reader.Floats(312, 4),
            IntentName = reader.Text(328, 16),
            Magic = reader.Text(344, 4),
        };
        header.Validate(source);
        return header;
    }

    /// <summary>Checks what a reader relies on: magic, rank, dims, data type and offset.</summary>
    public void Validate(string source)
    {
        if (Magic == "ni1")
            throw new InvalidDataException($"{source}: two-file NIfTI (.hdr/.img, magic 'ni1') is not supported; convert it to a single .nii file");
        if (Magic != "n+1")
            throw new InvalidDataException($"{source}: not a NIfTI-1 file (magic is '{Magic}', must be 'n+1')");
        if (Rank is < 1 or > 7)
            throw new InvalidDataException($"{source}: dim[0] is {Rank}, must be 1 to 7");
        for (int i = 1; i <= Rank; i++)
            if (Dim[i] < 1)
                throw new InvalidDataException($"{source}: dim[{i}] is {Dim[i]}, must be at least 1");
        if (!NiftiDataTypes.IsSupported(DataType))
            throw new InvalidDataException(
                $"{source}: NIfTI datatype {DataType} is not supported (supported: int8, uint8, int16, uint16, int32, float32, float64)");
        int bits = ((NiftiDataType)DataType).ItemSize() * 8;
        if (BitPix != bits)
            throw new InvalidDataException($"{source}: bitpix is {BitPix} but datatype {(NiftiDataType)DataType} has {bits} bits");
        if (!float.IsFinite(VoxOffset) || VoxOffset < Size || VoxOffset != MathF.Floor(VoxOffset))
            throw new InvalidDataException($"{source}: vox_offset {VoxOffset} is not a whole byte offset of at least {Size}");
    }

    /// <summary>The 348 header bytes in little-endian order.</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[Size];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, Size);
        WriteText(span, 4, 10, DataTypeName);
        WriteText(span, 14, 18, DbName);
        BinaryPrimitives.WriteInt32LittleEndian(span[32..], Extents);
        BinaryPrimitives.WriteInt16LittleEndian(span[36..], SessionError);
        bytes[38] = Regular;
        bytes[39] = DimInfo;
        WriteInt16s(span, 40, Dim, 8);
        BinaryPrimitives.WriteSingleLittleEndian(span[56..], IntentP1);
        BinaryPrimitives.WriteSingleLittleEndian(span[60..], IntentP2);
        BinaryPrimitives.WriteSingleLittleEndian(span[64..], IntentP3);
        BinaryPrimitives.WriteInt16LittleEndian(span[68..], IntentCode);
        BinaryPrimitives.WriteInt16LittleEndian(span[70..], DataType);
        BinaryPrimitives.WriteInt16LittleEndian(span[72..], BitPix);
        BinaryPrimitives.WriteInt16LittleEndian(span[74..], SliceStart);
        WriteFloats(span, 76, PixDim, 8);
        BinaryPrimitives.WriteSingleLittleEndian(span[108..], VoxOffset);
        BinaryPrimitives.WriteSingleLittleEndian(span[112..], SclSlope);
        BinaryPrimitives.WriteSingleLittleEndian(span[116..], SclInter);
        BinaryPrimitives.WriteInt16LittleEndian(span[120..], SliceEnd);
        bytes[122] = SliceCode;
        bytes[123] = XyztUnits;
        BinaryPrimitives.WriteSingleLittleEndian(span[124..], CalMax);
        BinaryPrimitives.WriteSingleLittleEndian(span[128..], CalMin);
        BinaryPrimitives.WriteSingleLittleEndian(span[132..], SliceDuration);
        BinaryPrimitives.WriteSingleLittleEndian(span[136..], TOffset);
        BinaryPrimitives.WriteInt32LittleEndian(span[140..], GlMax);
        BinaryPrimitives.WriteInt32LittleEndian(span[144..], GlMin);
        WriteText(span, 148, 80, Descrip);
        WriteText(span, 228, 24, AuxFile);
        BinaryPrimitives.WriteInt16LittleEndian(span[252..], QformCode);
        BinaryPrimitives.WriteInt16LittleEndian(span[254..], SformCode);
        BinaryPrimitives.WriteSingleLittleEndian(span[256..], QuaternB);
        BinaryPrimitives.WriteSingleLittleEndian(span[260..], QuaternC);
        BinaryPrimitives.WriteSingleLittleEndian(span[264..], QuaternD);
        BinaryPrimitives.WriteSingleLittleEndian(span[268..], QOffsetX);
        BinaryPrimitives.WriteSingleLittleEndian(span[272..], QOffsetY);
        BinaryPrimitives.WriteSingleLittleEndian(span[276..], QOffsetZ);
        WriteFloats(span, 280, SRowX, 4);
        WriteFloats(span, 296, SRowY, 4);
        WriteFloats(span, 312, SRowZ, 4);
        WriteText(span, 328, 16, IntentName);
        WriteText(span, 344, 4, Magic);
        return bytes;
    }

    private static void WriteText(Span<byte> span, int offset, int length, string text)
    {
        var encoded = Encoding.Latin1.GetBytes(text);
        if (encoded.Length > length)
            throw new ArgumentException($"NIfTI header text '{text}' is longer than its {length}-byte field");
        encoded.CopyTo(span[offset..]);
    }

    private static void WriteInt16s(Span<byte> span, int offset, short[] values, int count)
    {
        if (values.Length != count)
            throw new ArgumentException($"NIfTI header array needs {count} values, not {values.Length}");
        for (int i = 0; i < count; i++)
            BinaryPrimitives.WriteInt16LittleEndian(span[(offset + 2 * i)..], values[i]);
    }

    private static void WriteFloats(Span<byte> span, int offset, float[] values, int count)
    {
        if (values.Length != count)
            throw new ArgumentException($"NIfTI header array needs {count} values, not {values.Length}");
        for (int i = 0; i < count; i++)
            BinaryPrimitives.WriteSingleLittleEndian(span[(offset + 4 * i)..], values[i]);
    }

    private readonly ref struct FieldReader(ReadOnlySpan<byte> bytes, bool bigEndian)
    {
        private readonly ReadOnlySpan<byte> bytes = bytes;

        public short Int16(int offset) => bigEndian
            ? BinaryPrimitives.ReadInt16BigEndian(bytes[offset..])
            : BinaryPrimitives.ReadInt16LittleEndian(bytes[offset..]);

        public int Int32(int offset) => bigEndian
            ? BinaryPrimitives.ReadInt32BigEndian(bytes[offset..])
            : BinaryPrimitives.ReadInt32LittleEndian(bytes[offset..]);

        public float Float(int offset) => bigEndian
            ? BinaryPrimitives.ReadSingleBigEndian(bytes[offset..])
            : BinaryPrimitives.ReadSingleLittleEndian(bytes[offset..]);

        public short[] Int16s(int offset, int count)
        {
            var values = new short[count];
            for (int i = 0; i < count; i++)
                values[i] = Int16(offset + 2 * i);
            return values;
        }

        public float[] Floats(int offset, int count)
        {
            var values = new float[count];
            for (int i = 0; i < count; i++)
                values[i] = Float(offset + 4 * i);
            return values;
        }

        public string Text(int offset, int length)
        {
            var field = bytes.Slice(offset, length);
            int end = field.IndexOf((byte)0);
            return Encoding.Latin1.GetString(end < 0 ? field : field[..end]);
        }
    }
}
