using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SAMed.Modeling;

/// <summary>
/// segment-anything's utils/transforms.py ResizeLongestSide: an image is resized so that its longest side is
/// <see cref="TargetLength"/>, and point and box coordinates (x, y) are scaled by the same factors.
/// </summary>
public sealed class ResizeLongestSide(int targetLength)
{
    public int TargetLength { get; } = targetLength > 0 ? targetLength : throw new ArgumentOutOfRangeException(nameof(targetLength));

    /// <summary>get_preprocess_shape: scale = target / max(h, w); new sides int(side * scale + 0.5).</summary>
    public static (int H, int W) PreprocessShape(int oldH, int oldW, int longSideLength)
    {
        double scale = longSideLength * 1.0 / Math.Max(oldH, oldW);
        double newH = oldH * scale, newW = oldW * scale;
        return ((int)(newH + 0.5), (int)(newW + 0.5));
    }

    public (int H, int W) InputSize((int H, int W) originalSize) => PreprocessShape(originalSize.H, originalSize.W, TargetLength);

    /// <summary>apply_coords: x * (new_w / old_w), y * (new_h / old_h), for coordinates in the original frame.</summary>
    public (double X, double Y) ApplyCoords(double x, double y, (int H, int W) originalSize)
    {
        var (newH, newW) = InputSize(originalSize);
        return (x * ((double)newW / originalSize.W), y * ((double)newH / originalSize.H));
    }

    /// <summary>apply_boxes: both corners through <see cref="ApplyCoords"/>.</summary>
    public (double X0, double Y0, double X1, double Y1) ApplyBox((double X0, double Y0, double X1, double Y1) box, (int H, int W) originalSize)
    {
        var (x0, y0) = ApplyCoords(box.X0, box.Y0, originalSize);
        var (x1, y1) = ApplyCoords(box.X1, box.Y1, originalSize);
        return (x0, y0, x1, y1);
    }

    /// <summary>
    /// The image [..., C, H, W] resized so its longest side is the target, bilinearly without aligned corners
    /// (apply_image_torch; SamPredictor.set_image's PIL resize of uint8 images differs in rounding only).
    /// </summary>
    public Tensor ApplyImage(Tensor image)
    {
        var (h, w) = InputSize(((int)image.shape[^2], (int)image.shape[^1]));
        if (h == image.shape[^2] && w == image.shape[^1])
            return image.clone();
        bool batched = image.dim() == 4;
        using var scope = torch.NewDisposeScope();
        var input = batched ? image : image.unsqueeze(0);
        var resized = F.interpolate(input, size: [h, w], mode: InterpolationMode.Bilinear, align_corners: false);
        return (batched ? resized : resized.squeeze(0)).MoveToOuterDisposeScope();
    }
}
