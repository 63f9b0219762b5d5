using System.Buffers.Binary;
using System.Text;
using SAMed.IO;
using SAMed.Training;
using Xunit.Abstractions;

namespace SAMed.Tests.Training;

public class RunFilesTests(ITestOutputHelper output)
{
    [Fact]
    public void EventFileHasFramedEventsWithScalarsAndImages()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"samed-tb-{Guid.NewGuid():N}");
        try
        {
            string path;
            using (var writer = new TensorBoardWriter(dir))
            {
                writer.AddScalar("info/lr", 0.0025, 1);
                writer.AddScalar("info/total_loss", 0.75, 2);
                writer.AddImage("train/Image", new byte[6], 3, 2, 20);
                path = writer.Path;
            }
            Assert.StartsWith("events.out.tfevents.", Path.GetFileName(path));
            var records = ReadRecords(File.ReadAllBytes(path));
            Assert.Equal(4, records.Count);

            var first = Proto.Fields(records[0]);
            Assert.Equal("brain.Event:2", Encoding.UTF8.GetString((byte[])first.Single(f => f.Field == 3).Value));

            var lr = Proto.Fields(records[1]);
            Assert.Equal(1L, lr.Single(f => f.Field == 2).Value);
            var value = Proto.Fields((byte[])Proto.Fields((byte[])lr.Single(f => f.Field == 5).Value).Single(f => f.Field == 1).Value);
            Assert.Equal("info/lr", Encoding.UTF8.GetString((byte[])value.Single(f => f.Field == 1).Value));
            Assert.Equal(0.0025f, (float)value.Single(f => f.Field == 2).Value);

            var imageEvent = Proto.Fields(records[3]);
            Assert.Equal(20L, imageEvent.Single(f => f.Field == 2).Value);
            var imageValue = Proto.Fields((byte[])Proto.Fields((byte[])imageEvent.Single(f => f.Field == 5).Value).Single(f => f.Field == 1).Value);
            Assert.Equal("train/Image", Encoding.UTF8.GetString((byte[])imageValue.Single(f => f.Field == 1).Value));
            var image = Proto.Fields((byte[])imageValue.Single(f => f.Field == 4).Value);
            Assert.Equal(2L, image.Single(f => f.Field == 1).Value);
            Assert.Equal(3L, image.Single(f => f.Field == 2).Value);
            Assert.Equal(0x89, ((byte[])image.Single(f => f.Field == 4).Value)[0]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void CsvLogRoundTripsAndResumeDropsLostRows()
    {
        string path = Path.Combine(Path.GetTempPath(), $"samed-log-{Guid.NewGuid():N}.csv");
        try
        {
            using (var log = TrainingLog.Create(path))
            {
                for (int i = 0; i < 5; i++)
                    log.Append(new StepRecord(i, i / 2, 0.001 * (i + 1), 1.0 / (i + 1), 0.5, 0.25, 10.5, i * 1.5));
            }
            Assert.StartsWith("iteration,epoch,step_lr,loss,loss_ce,loss_dice,images_per_second,seconds\n", File.ReadAllText(path));
            var rows = TrainingLog.Read(path);
            Assert.Equal(5, rows.Count);
            Assert.Equal(new StepRecord(3, 1, 0.004, 0.25, 0.5, 0.25, 10.5, 4.5), rows[3]);

            using (var log = TrainingLog.Continue(path, lastIteration: 2))
                log.Append(new StepRecord(3, 1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6));
            rows = TrainingLog.Read(path);
            Assert.Equal(new long[] { 0, 1, 2, 3 }, rows.Select(r => r.Iteration));
            Assert.Equal(0.1, rows[3].Lr);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ProgressPlotIsAPngOfTheWholeRun()
    {
        string path = Path.Combine(Path.GetTempPath(), $"samed-progress-{Guid.NewGuid():N}", "progress.png");
        try
        {
            var steps = Enumerable.Range(1, 9000).Select(i => new StepRecord(i, (i - 1) / 100, 0.01 * (1 - i / 9000.0), 1.0 / Math.Sqrt(i), 0.5, 0.25, 10, i)).ToList();
            var heldOut = new[] { new HeldOutRecord(1000, 9, 0.2, 30), new HeldOutRecord(2000, 19, 0.5, 12) };
            var clock = System.Diagnostics.Stopwatch.StartNew();
            ProgressPlot.Write(path, steps, heldOut);
            output.WriteLine($"progress.png of 9000 steps drawn in {clock.ElapsedMilliseconds} ms");
            clock.Restart();
            ProgressPlot.Write(path, steps.Take(400).ToList(), heldOut.Take(1).ToList());
            output.WriteLine($"progress.png of 400 steps drawn in {clock.ElapsedMilliseconds} ms");
            var png = File.ReadAllBytes(path);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
            Assert.Equal(ProgressPlot.Width, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
            Assert.Equal(ProgressPlot.Height, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
            Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void TranscriptGetsMessagesAndIntervalLinesWithTimes()
    {
        var transcript = new StringWriter();
        var progress = new ProgressReporter(TextWriter.Null, interactive: true, interval: 2) { Transcript = transcript };
        progress.Message("run folder: x");
        for (int i = 1; i <= 3; i++)
            progress.Report(new StepRecord(i, 0, 0.001, 0.5, 0.4, 0.3, 12, i), 3, 1, TimeSpan.Zero);
        var lines = transcript.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  run folder: x$", lines[0]);
        Assert.Contains("iter 2/3", lines[1]);
        Assert.Contains("iter 3/3", lines[2]);
    }

    [Fact]
    public void RedirectedProgressPrintsEveryIntervalAndTheLastStep()
    {
        var output = new StringWriter();
        var progress = new ProgressReporter(output, interactive: false, interval: 2);
        for (int i = 1; i <= 5; i++)
            progress.Report(new StepRecord(i, 0, 0.001, 0.5, 0.4, 0.3, 12, i), 5, 1, TimeSpan.FromSeconds(5 - i));
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Contains("iter 2/5", lines[0]);
        Assert.Contains("iter 5/5", lines[2]);
        Assert.Contains("ETA", lines[0]);
    }

    private static List<byte[]> ReadRecords(byte[] file)
    {
        var records = new List<byte[]>();
        int offset = 0;
        while (offset < file.Length)
        {
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(offset));
            Assert.Equal(Crc32C.Masked(file.AsSpan(offset, 8)), BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + 8)));
            var data = file.AsSpan(offset + 12, (int)length).ToArray();
            Assert.Equal(Crc32C.Masked(data), BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + 12 + (int)length)));
            records.Add(data);
            offset += 16 + (int)length;
        }
        return records;
    }

    /// <summary>A minimal protobuf field reader for the test (varint, 64-bit, length-delimited, 32-bit).</summary>
    private static class Proto
    {
        public static List<(int Field, object Value)> Fields(byte[] data)
        {
            var fields = new List<(int, object)>();
            int i = 0;
            while (i < data.Length)
            {
                ulong key = Varint(data, ref i);
                int field = (int)(key >> 3);
                switch ((int)(key & 7))
                {
                    case 0: fields.Add((field, (long)Varint(data, ref i))); break;
                    case 1: fields.Add((field, BinaryPrimitives.ReadDoubleLittleEndian(data.AsSpan(i)))); i += 8; break;
                    case 2:
                        int length = (int)Varint(data, ref i);
                        fields.Add((field, data[i..(i + length)]));
                        i += length;
                        break;
                    case 5: fields.Add((field, BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(i)))); i += 4; break;
                    default: throw new InvalidDataException("unexpected wire type");
                }
            }
            return fields;
        }

        private static ulong Varint(byte[] data, ref int i)
        {
            ulong value = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = data[i++];
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80)
                    return value;
            }
        }
    }
}
