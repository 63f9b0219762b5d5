using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace SAMed.Checkpoints;

/// <summary>
/// Writes a dict of tensors the way torch.save lays it out: a zip with {name}/data.pkl (pickle protocol 2 of
/// {key: torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())}), one uncompressed
/// {name}/data/N record per tensor, and {name}/version and {name}/byteorder.
/// </summary>
internal static class PickleWriter
{
    public static void Write(Stream stream, string archiveName, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        using var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        using var pickle = new MemoryStream();
        pickle.WriteByte(0x80);
        pickle.WriteByte(2);              // PROTO 2
        pickle.WriteByte((byte)'}');      // EMPTY_DICT

        int index = 0;
        var seen = new HashSet<string>();
        bool any = false;
        foreach (var (name, tensor) in tensors)
        {
            if (!seen.Add(name))
                throw new ArgumentException($"duplicate state-dict key '{name}'", nameof(tensors));
            if (!any)
            {
                pickle.WriteByte((byte)'(');  // MARK
                any = true;
            }
            WriteTensor(archive, archiveName, pickle, name, tensor, index.ToString(System.Globalization.CultureInfo.InvariantCulture));
            index++;
        }
        if (any)
            pickle.WriteByte((byte)'u');  // SETITEMS
        pickle.WriteByte((byte)'.');      // STOP

        WriteEntry(archive, $"{archiveName}/data.pkl", pickle.ToArray());
        WriteEntry(archive, $"{archiveName}/byteorder", Encoding.ASCII.GetBytes("little"));
        WriteEntry(archive, $"{archiveName}/version", Encoding.ASCII.GetBytes("3\n"));
    }

    private static void WriteTensor(ZipArchive archive, string archiveName, MemoryStream pickle, string name, Tensor tensor, string key)
    {
        using var scope = torch.NewDisposeScope();
        var cpu = tensor.detach().to(torch.CPU).contiguous();
        long[] shape = cpu.shape;
        long count = cpu.numel();

        WriteUnicode(pickle, name);
        WriteGlobal(pickle, "torch._utils", "_rebuild_tensor_v2");
        pickle.WriteByte((byte)'(');                  // MARK: arguments
        pickle.WriteByte((byte)'(');                  // MARK: persistent id
        WriteUnicode(pickle, "storage");
        WriteGlobal(pickle, "torch", PthStateDict.StorageOfDtype(cpu.dtype));
        WriteUnicode(pickle, key);
        WriteUnicode(pickle, "cpu");
        WriteInt(pickle, count);
        pickle.WriteByte((byte)'t');                  // TUPLE
        pickle.WriteByte((byte)'Q');                  // BINPERSID
        WriteInt(pickle, 0);                          // storage offset
        WriteTuple(pickle, shape);
        WriteTuple(pickle, ContiguousStrides(shape));
        pickle.WriteByte(0x89);                       // NEWFALSE: requires_grad
        WriteGlobal(pickle, "collections", "OrderedDict");
        pickle.WriteByte((byte)')');                  // EMPTY_TUPLE
        pickle.WriteByte((byte)'R');                  // REDUCE: backward hooks
        pickle.WriteByte((byte)'t');                  // TUPLE
        pickle.WriteByte((byte)'R');                  // REDUCE

        var entry = archive.CreateEntry($"{archiveName}/data/{key}", CompressionLevel.NoCompression);
        using var data = entry.Open();
        if (count > 0)
            data.Write(cpu.bytes);
    }

    private static long[] ContiguousStrides(long[] shape)
    {
        var strides = new long[shape.Length];
        long stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= Math.Max(shape[i], 1);
        }
        return strides;
    }

    private static void WriteEntry(ZipArchive archive, string name, byte[] bytes)
    {
        var entry = archive.CreateEntry(name, CompressionLevel.NoCompression);
        using var stream = entry.Open();
        stream.Write(bytes);
    }

    private static void WriteUnicode(Stream pickle, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        pickle.WriteByte((byte)'X');
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)bytes.Length);
        pickle.Write(length);
        pickle.Write(bytes);
    }

    private static void WriteGlobal(Stream pickle, string module, string name)
    {
        pickle.WriteByte((byte)'c');
        pickle.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    }

    private static void WriteTuple(Stream pickle, long[] values)
    {
        pickle.WriteByte((byte)'(');
        foreach (long value in values)
            WriteInt(pickle, value);
        pickle.WriteByte((byte)'t');
    }

    private static void WriteInt(Stream pickle, long value)
    {
        if (value is >= 0 and < 256)
        {
            pickle.WriteByte((byte)'K');
            pickle.WriteByte((byte)value);
        }
        else if (value is >= int.MinValue and <= int.MaxValue)
        {
            pickle.WriteByte((byte)'J');
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)value);
            pickle.Write(bytes);
        }
        else
        {
            pickle.WriteByte(0x8a);                   // LONG1, 8 bytes two's complement
            pickle.WriteByte(8);
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
            pickle.Write(bytes);
        }
    }
}
