namespace SAMed.Inference;

/// <summary>Segments 2D slices: one label map (0 = background, 1..NumClasses) per slice, at the slice's own size.</summary>
public interface ISliceSegmenter
{
    int NumClasses { get; }

    /// <summary>Slices are [H, W] images (SAMed's inputs: intensities in [0, 1]); they may differ in size.</summary>
    IReadOnlyList<int[,]> Segment(IReadOnlyList<float[,]> slices);
}
