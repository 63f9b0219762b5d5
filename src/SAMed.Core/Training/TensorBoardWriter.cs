using System.Buffers.Binary;
using System.Text;
using SAMed.IO;

namespace SAMed.Training;

/// <summary>
/// Writes TensorBoard event files (events.out.tfevents.*): TFRecord frames (uint64 length, masked CRC-32C of the
/// length, the Event protobuf, masked CRC-32C of the data) holding Event{wall_time=1, step=2, file_version=3,
/// summary=5}. Summary.Value{tag=1, simple_value=2, image=4}; Image{height=1, width=2, colorspace=3, encoded_image_string=4}.
/// </summary>
public sealed class TensorBoardWriter : IDisposable
{
    private static int s_filesCreated;
    private readonly FileStream _stream;

    public string Path { get; }

    public TensorBoardWriter(string directory)
    {
        Directory.CreateDirectory(directory);
        long seconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        // As tensorboard's EventFileWriter: time, host, pid and a per-process counter, so a run resumed in the same
        // second by the same process (tests) gets a file of its own.
        int uid = Interlocked.Increment(ref s_filesCreated) - 1;
        Path = System.IO.Path.Combine(directory, $"events.out.tfevents.{seconds}.{Environment.MachineName}.{Environment.ProcessId}.{uid}");
        _stream = new FileStream(Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
        var first = new ProtoWriter();
        first.Double(1, WallTime());
        first.String(3, "brain.Event:2");
        WriteRecord(first.ToArray());
        Flush();
    }

    public void AddScalar(string tag, double value, long step)
    {
        var summaryValue = new ProtoWriter();
        summaryValue.String(1, tag);
        summaryValue.Float(2, (float)value);
        WriteSummary(summaryValue, step);
    }

    /// <summary>An 8-bit grayscale image summary, PNG-encoded.</summary>
    public void AddImage(string tag, byte[] pixels, int width, int height, long step)
    {
        var image = new ProtoWriter();
        image.Int(1, height);
        image.Int(2, width);
        image.Int(3, 1);
        image.Bytes(4, Png.EncodeGray(pixels, width, height));
        var summaryValue = new ProtoWriter();
        summaryValue.String(1, tag);
        summaryValue.Message(4, image);
        WriteSummary(summaryValue, step);
    }

    public void Flush() => _stream.Flush();

    public void Dispose() => _stream.Dispose();

    private void WriteSummary(ProtoWriter summaryValue, long step)
    {
        var summary = new ProtoWriter();
        summary.Message(1, summaryValue);
        var record = new ProtoWriter();
        record.Double(1, WallTime());
        record.Int(2, step);
        record.Message(5, summary);
        WriteRecord(record.ToArray());
    }

    private void WriteRecord(byte[] data)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.Masked(header[..8]));
        _stream.Write(header);
        _stream.Write(data);
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.Masked(data));
        _stream.Write(footer);
    }

    private static double WallTime() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    /// <summary>The few protobuf wire encodings an Event needs.</summary>
    private sealed class ProtoWriter
    {
        private readonly MemoryStream _buffer = new();

        public void Double(int field, double value)
        {
            Tag(field, 1);
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleLittleEndian(bytes, value);
            _buffer.Write(bytes);
        }

        public void Float(int field, float value)
        {
            Tag(field, 5);
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
            _buffer.Write(bytes);
        }

        public void Int(int field, long value)
        {
            Tag(field, 0);
            Varint((ulong)value);
        }

        public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public void Bytes(int field, byte[] value)
        {
            Tag(field, 2);
            Varint((ulong)value.Length);
            _buffer.Write(value);
        }

        public void Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _buffer.ToArray();

        private void Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

        private void Varint(ulong value)
        {
            while (value >= 0x80)
            {
                _buffer.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            _buffer.WriteByte((byte)value);
        }
    }
}
