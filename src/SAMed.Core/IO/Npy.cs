using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace SAMed.IO;

/// <summary>Reads and writes NumPy .npy files (format versions 1 to 3, C and Fortran order).</summary>
public static partial class Npy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static NpyArray Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: file not found", path);
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }

    /// <param name="source">Names the file in error messages.</param>
    public static NpyArray Read(Stream stream, string source)
    {
        var prefix = new byte[8];
        ReadExactly(stream, prefix, source, "the .npy preamble");
        if (!prefix.AsSpan(0, 6).SequenceEqual(Magic))
            throw new InvalidDataException($"{source}: not a NumPy .npy file (bad magic)");
        int major = prefix[6];
        int headerLength;
        if (major == 1)
        {
            var len = new byte[2];
            ReadExactly(stream, len, source, "the header length");
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(len);
        }
        else if (major is 2 or 3)
        {
            var len = new byte[4];
            ReadExactly(stream, len, source, "the header length");
            headerLength = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(len));
        }
        else
        {
            throw new InvalidDataException($"{source}: unsupported .npy format version {major}");
        }

        var headerBytes = new byte[headerLength];
        ReadExactly(stream, headerBytes, source, "the header");
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);
        var (descr, fortran, shape) = ParseHeader(header, source);
        var (type, bigEndian) = ParseDescr(descr, source);

        long count = shape.Aggregate(1L, (a, b) => a * b);
        int itemSize = NpyArray.ItemSize(type);
        long byteCount = count * itemSize;
        if (byteCount > Array.MaxLength)
            throw new InvalidDataException($"{source}: array of {count} elements is too large to load");
        var data = new byte[byteCount];
        ReadExactly(stream, data, source, $"the data ({byteCount} bytes for shape [{string.Join(", ", shape)}])");
        if (bigEndian && itemSize > 1)
            for (long i = 0; i < byteCount; i += itemSize)
                Array.Reverse(data, (int)i, itemSize);
        if (fortran && shape.Length > 1)
            data = FortranToC(data, shape, itemSize);
        return new NpyArray(type, shape, data);
    }

    public static void Write(string path, NpyArray array)
    {
        AtomicFile.Write(path, stream => Write(stream, array));
    }

    public static void Write(Stream stream, NpyArray array)
    {
        string shape = array.Shape.Length == 1
            ? $"({array.Shape[0]},)"
            : "(" + string.Join(", ", array.Shape) + ")";
        string header = $"{{'descr': '{Descr(array.Type)}', 'fortran_order': False, 'shape': {shape}, }}";
        int total = 10 + header.Length + 1;
        int padding = (64 - total % 64) % 64;
        header = header + new string(' ', padding) + "\n";
        stream.Write(Magic);
        stream.WriteByte(1);
        stream.WriteByte(0);
        var len = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
        stream.Write(len);
        stream.Write(Encoding.Latin1.GetBytes(header));
        stream.Write(array.Data);
    }

    private static string Descr(NpyType type) => type switch
    {
        NpyType.Bool => "|b1",
        NpyType.Int8 => "|i1",
        NpyType.UInt8 => "|u1",
        NpyType.Int16 => "<i2",
        NpyType.UInt16 => "<u2",
        NpyType.Int32 => "<i4",
        NpyType.UInt32 => "<u4",
        NpyType.Int64 => "<i8",
        NpyType.UInt64 => "<u8",
        NpyType.Float32 => "<f4",
        _ => "<f8",
    };

    private static (string Descr, bool Fortran, long[] Shape) ParseHeader(string header, string source)
    {
        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shape = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shape.Success)
            throw new InvalidDataException($"{source}: malformed .npy header: {header.Trim()}");
        var dims = shape.Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.Parse(d.TrimEnd('L'), CultureInfo.InvariantCulture))
            .ToArray();
        return (descr.Groups[1].Value, fortran.Groups[1].Value == "True", dims);
    }

    private static (NpyType Type, bool BigEndian) ParseDescr(string descr, string source)
    {
        char order = descr[0];
        string code = order is '<' or '>' or '|' or '=' ? descr[1..] : descr;
        bool bigEndian = order == '>';
        NpyType type = code switch
        {
            "b1" or "?" => NpyType.Bool,
            "i1" => NpyType.Int8,
            "u1" => NpyType.UInt8,
            "i2" => NpyType.Int16,
            "u2" => NpyType.UInt16,
            "i4" => NpyType.Int32,
            "u4" => NpyType.UInt32,
            "i8" => NpyType.Int64,
            "u8" => NpyType.UInt64,
            "f4" => NpyType.Float32,
            "f8" => NpyType.Float64,
            _ => throw new InvalidDataException($"{source}: unsupported .npy dtype '{descr}'"),
        };
        return (type, bigEndian);
    }

    private static byte[] FortranToC(byte[] data, long[] shape, int itemSize)
    {
        int rank = shape.Length;
        var result = new byte[data.Length];
        var cStrides = new long[rank];
        var fStrides = new long[rank];
        cStrides[rank - 1] = 1;
        for (int d = rank - 2; d >= 0; d--)
            cStrides[d] = cStrides[d + 1] * shape[d + 1];
        fStrides[0] = 1;
        for (int d = 1; d < rank; d++)
            fStrides[d] = fStrides[d - 1] * shape[d - 1];
        long count = data.Length / itemSize;
        for (long c = 0; c < count; c++)
        {
            long rest = c, f = 0;
            for (int d = 0; d < rank; d++)
            {
                long index = rest / cStrides[d];
                rest %= cStrides[d];
                f += index * fStrides[d];
            }
            Buffer.BlockCopy(data, (int)(f * itemSize), result, (int)(c * itemSize), itemSize);
        }
        return result;
    }

    private static void ReadExactly(Stream stream, byte[] buffer, string source, string what)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = stream.Read(buffer, read, buffer.Length - read);
            if (n == 0)
                throw new InvalidDataException($"{source}: truncated .npy file: ended while reading {what}");
            read += n;
        }
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
