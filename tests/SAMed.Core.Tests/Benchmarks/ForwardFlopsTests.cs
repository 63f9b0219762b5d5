using SAMed.Benchmarks;
using SAMed.Modeling;

namespace SAMed.Tests.Benchmarks;

public class ForwardFlopsTests
{
    /// <summary>
    /// A tiny SAM counted by hand: image 16, patch 4 (4x4 tokens), width 8, 2 heads, MLP ratio 4, window 3 (the 4x4
    /// grid pads to 6x6: four windows of 9 tokens), blocks 0 windowed and 1 global; prompt width 16, decoder depth 1,
    /// MLP 32, IoU head 3 layers of 16; 1 class (2 masks, T = 3 tokens with the IoU token).
    /// </summary>
    private static readonly SamConfig Tiny = new()
    {
        ImageSize = 16,
        PatchSize = 4,
        EncoderEmbedDim = 8,
        EncoderDepth = 2,
        EncoderNumHeads = 2,
        WindowSize = 3,
        GlobalAttnIndexes = [1],
        PromptEmbedDim = 16,
        MaskInChans = 4,
        DecoderDepth = 1,
        DecoderHeads = 2,
        DecoderMlpDim = 32,
        IouHeadHiddenDim = 16,
        NumClasses = 1,
    };

    [Fact]
    public void TinyConfigMatchesAHandCount()
    {
        var flops = ForwardFlops.Count(Tiny, batch: 1, loraRank: 2);

        // patch embed: 16 tokens x 8 outputs x 48 inputs x 2
        Assert.Equal(12_288, flops.PatchEmbed);
        // qkv and proj on the 16 real tokens in both blocks (the windowed block pads to 36 only for attention):
        // qkv 16*8*24*2 = 6144, proj 16*8*8*2 = 2048
        Assert.Equal(2 * (6_144 + 2_048), flops.QkvProj);
        // q k^T and attn v, only the 16 real tokens querying: windowed against the 9 keys of their window (padded ones
        // included) 16*9*8*2*2 = 4608; global 16*16*8*2*2 = 8192
        Assert.Equal(4_608 + 8_192, flops.Attention);
        // rel-pos, h and w tables: windowed 16 queries x 3 keys x 8 x 2 x 2 = 1536; global 16 x 4 x 8 x 2 x 2 = 2048
        Assert.Equal(1_536 + 2_048, flops.RelPos);
        // MLP on the 16 real tokens, both blocks: 2 layers x 16*8*32*2 = 16384 per block
        Assert.Equal(2 * 16_384, flops.Mlp);
        // LoRA rank 2 on q and v: per token 2 x (8*2 + 2*8) x 2 = 128; 16 real tokens in each block
        Assert.Equal(128 * (16 + 16), flops.Lora);
        // neck: 1x1 16*8*16*2 = 4096, 3x3 16*16*16*9*2 = 73728
        Assert.Equal(4_096 + 73_728, flops.Neck);
        // dense positional encoding: 16 points x 2 coords x 8 features x 2
        Assert.Equal(512, flops.PromptEncoder);

        // decoder, C = 16, Ci = 8, T = 3, Ni = 16:
        // self-attention: 4 projections 3*16*16*2 = 6144 plus 3*3*16*2*2 = 576           -> 6720
        // token-to-image: q,out 2*(3*16*8*2) = 1536, k,v 2*(16*16*8*2) = 8192, attention 3*16*8*2*2 = 1536 -> 11264
        // token MLP: 2 * 3*16*32*2 = 6144; image-to-token: as token-to-image, 11264; final token-to-image: 11264
        // upscaling: 16*16*4*4*2 = 8192 and 64*4*2*4*2 = 4096; hypernetworks 2 x (16*16*2 + 16*16*2 + 16*2*2) = 2176
        // masks: 2 x 2 x 256 pixels x 2 = 2048; IoU head 16*16*2 + 16*16*2 + 16*2*2 = 1088
        Assert.Equal(6_720 + 11_264 + 6_144 + 11_264 + 11_264 + 8_192 + 4_096 + 2_176 + 2_048 + 1_088, flops.Decoder);
    }

    [Fact]
    public void BatchScalesEverythingButThePositionalEncoding()
    {
        var one = ForwardFlops.Count(Tiny, batch: 1);
        var three = ForwardFlops.Count(Tiny, batch: 3);
        Assert.Equal(3 * (one.Total - one.PromptEncoder), three.Total - three.PromptEncoder);
        Assert.Equal(one.PromptEncoder, three.PromptEncoder);
        Assert.Equal(0, one.Lora);
    }

    [Fact]
    public void VitB512IsAbout196Gflop()
    {
        // 12 blocks of width 768 on 32x32 tokens (qkv, proj and the queries on the real tokens; 8 windowed blocks
        // attend to the 196 keys of windows padded to 42x42), MLP 3072.
        double d = 768, n = 1024;
        double qkvProj = 12 * (8 * n * d * d);
        double mlp = 12 * 16 * n * d * d;
        double windowedAttention = 8 * (2 * 2 * n * 196 * d);
        var flops = ForwardFlops.Count(SamConfig.VitB(512, 8), batch: 1);
        Assert.Equal(qkvProj, flops.QkvProj);
        Assert.Equal(mlp, flops.Mlp);
        Assert.Equal(windowedAttention + 4 * (2 * 2 * n * n * d), flops.Attention);
        Assert.InRange(flops.Total / 1e9, 196, 197);
    }
}
