namespace SAMed.Data;

/// <summary>
/// SAMed's intensity window: clip to [min, max] and scale (x - min) / (max - min) in float32, as its preprocessing
/// does for CT (-125 to 275 HU). Prepare, synthetic volumes and prediction share it so that they agree bit for bit.
/// </summary>
public static class HuWindow
{
    public const float DefaultMin = -125f;
    public const float DefaultMax = 275f;

    public static float Apply(float value, float min = DefaultMin, float max = DefaultMax) =>
        (Math.Clamp(value, min, max) - min) / (max - min);
}
