namespace SAMed.Inference;

/// <summary>Segments 2D slices: one label map (0 = background, 1..NumClasses) per slice, at the slice's own size.</summary>
public interface ISliceSegmenter
{
    int NumClasses { get; }

    /// <summary>Slices are [H, W] images (SAMed's inputs: intensities in [0, 1]); they may differ in size.</summary>
    IReadOnlyList<int[,]> Segment(IReadOnlyList<float[,]> slices);

    /// <summary>
    /// Images given as their channels: one [H, W] plane (grey) or three (R, G, B). A segmenter that reads grey slices
    /// only takes one-plane images; colour needs a segmenter that overrides this.
    /// </summary>
    IReadOnlyList<int[,]> Segment(IReadOnlyList<float[][,]> images)
    {
        if (images.Any(planes => planes.Length != 1))
            throw new NotSupportedException($"{GetType().Name} segments grey slices only; these images have colour channels");
        return Segment([.. images.Select(planes => planes[0])]);
    }
}
