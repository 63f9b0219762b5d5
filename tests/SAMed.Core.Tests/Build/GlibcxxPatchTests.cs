using System.Buffers.Binary;
using System.Text;

namespace SAMed.Tests.Build;

/// <summary>
/// The build marks libLibTorchSharp.so's GLIBCXX_3.4.32 requirement weak in the output copy (build/TorchRuntime.targets),
/// so that libtorch loads on systems whose libstdc++ stops at 3.4.30.
/// </summary>
public class GlibcxxPatchTests
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 2;

    [Fact]
    public void OutputCopyOfLibTorchSharpHasAWeakGlibcxx3432Requirement()
    {
        var libraries = Directory.GetFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories);
        Assert.NotEmpty(libraries);
        foreach (string library in libraries)
        {
            var flags = VersionRequirementFlags(File.ReadAllBytes(library));
            Assert.True(flags.ContainsKey("GLIBCXX_3.4.32"), $"{library} no longer asks for GLIBCXX_3.4.32: revisit the patch");
            Assert.Equal(VerFlgWeak, (ushort)(flags["GLIBCXX_3.4.32"] & VerFlgWeak));
            Assert.Equal(0, flags["GLIBCXX_3.4.30"] & VerFlgWeak);
        }
    }

    private static Dictionary<string, ushort> VersionRequirementFlags(byte[] elf)
    {
        var span = elf.AsSpan();
        long sectionHeaders = BinaryPrimitives.ReadInt64LittleEndian(span[0x28..]);
        int entrySize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        int count = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        var flags = new Dictionary<string, ushort>();
        for (int s = 0; s < count; s++)
        {
            var header = span[(int)(sectionHeaders + (long)s * entrySize)..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(header[4..]) != ShtGnuVerneed)
                continue;
            long offset = BinaryPrimitives.ReadInt64LittleEndian(header[0x18..]);
            int linked = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[0x28..]);
            int needs = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[0x2C..]);
            long strings = BinaryPrimitives.ReadInt64LittleEndian(span[(int)(sectionHeaders + (long)linked * entrySize + 0x18)..]);
            long need = offset;
            for (int n = 0; n < needs; n++)
            {
                int auxCount = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)(need + 2)..]);
                long aux = need + BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(need + 8)..]);
                for (int a = 0; a < auxCount; a++)
                {
                    int name = (int)(strings + BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(aux + 8)..]));
                    int end = Array.IndexOf(elf, (byte)0, name);
                    flags[Encoding.ASCII.GetString(elf, name, end - name)] = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)(aux + 4)..]);
                    aux += BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(aux + 12)..]);
                }
                need += BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(need + 12)..]);
            }
        }
        return flags;
    }
}
