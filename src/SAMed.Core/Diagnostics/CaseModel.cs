using System.Text.Json;
using SAMed.Modeling;

namespace SAMed.Diagnostics;

/// <summary>A reference case's "model" section: SAM's hyperparameters as the Python code that made the case named them.</summary>
public static class CaseModel
{
    /// <param name="classesKey">num_classes (SAMed's cases) or num_multimask_outputs (segment-anything's).</param>
    public static SamConfig Read(JsonElement model, string classesKey = "num_classes")
    {
        static int Int(JsonElement e, string name, int fallback) => e.TryGetProperty(name, out var v) ? v.GetInt32() : fallback;
        var defaults = new SamConfig { ImageSize = 1, EncoderEmbedDim = 1, EncoderDepth = 1, EncoderNumHeads = 1, GlobalAttnIndexes = [] };
        return new SamConfig
        {
            ImageSize = model.GetProperty("img_size").GetInt32(),
            PatchSize = model.GetProperty("patch_size").GetInt32(),
            InChans = Int(model, "in_chans", defaults.InChans),
            EncoderEmbedDim = model.GetProperty("embed_dim").GetInt32(),
            EncoderDepth = model.GetProperty("depth").GetInt32(),
            EncoderNumHeads = model.GetProperty("num_heads").GetInt32(),
            MlpRatio = model.TryGetProperty("mlp_ratio", out var ratio) ? ratio.GetDouble() : defaults.MlpRatio,
            QkvBias = model.TryGetProperty("qkv_bias", out var bias) ? bias.GetBoolean() : defaults.QkvBias,
            UseRelPos = model.TryGetProperty("use_rel_pos", out var relPos) ? relPos.GetBoolean() : defaults.UseRelPos,
            WindowSize = model.GetProperty("window_size").GetInt32(),
            GlobalAttnIndexes = [.. model.GetProperty("global_attn_indexes").EnumerateArray().Select(e => e.GetInt32())],
            EncoderLayerNormEps = model.GetProperty("encoder_layernorm_eps").GetDouble(),
            PromptEmbedDim = model.GetProperty("prompt_embed_dim").GetInt32(),
            MaskInChans = model.GetProperty("mask_in_chans").GetInt32(),
            DecoderDepth = model.GetProperty("decoder_depth").GetInt32(),
            DecoderHeads = model.GetProperty("decoder_heads").GetInt32(),
            DecoderMlpDim = model.GetProperty("decoder_mlp_dim").GetInt32(),
            IouHeadDepth = model.GetProperty("iou_head_depth").GetInt32(),
            IouHeadHiddenDim = model.GetProperty("iou_head_hidden_dim").GetInt32(),
            NumClasses = model.GetProperty(classesKey).GetInt32(),
            PixelMean = [.. model.GetProperty("pixel_mean").EnumerateArray().Select(e => (float)e.GetDouble())],
            PixelStd = [.. model.GetProperty("pixel_std").EnumerateArray().Select(e => (float)e.GetDouble())],
        };
    }
}
