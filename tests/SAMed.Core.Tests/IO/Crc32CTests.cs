using System.Text;
using SAMed.IO;

namespace SAMed.Tests.IO;

public class Crc32CTests
{
    [Fact]
    public void CrcsMatchTheirCheckValues()
    {
        byte[] check = Encoding.ASCII.GetBytes("123456789");
        Assert.Equal(0xE3069283u, Crc32C.Compute(check));
        Assert.Equal(0xCBF43926u, System.IO.Hashing.Crc32.HashToUInt32(check));
    }
}
