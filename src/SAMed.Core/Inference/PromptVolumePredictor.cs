using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SAMed.Data;
using SAMed.IO;
using SAMed.TorchInterop;
using static TorchSharp.torch;

namespace SAMed.Inference;

/// <summary>
/// Prompted segmentation of a NIfTI volume: intensities windowed to [0, 1], sliced along the configured axis, each
/// object segmented on the slices its prompt reaches, and its label value written into a uint8 map on the input's
/// exact grid. A box is applied as the same 2D box on every slice of its range. Clicks segment the slices they lie
/// on (with the box there, if any); a click-only object is then carried slice by slice to its neighbours, each slice
/// prompted with the bounding box of the previous slice's mask (MedSAM's box prompt), filling the slices between
/// clicked ones and continuing past the outermost ones until the mask vanishes. Objects are written in order, so a
/// later object wins where two overlap. As in <see cref="VolumePredictor"/>, the volume is held once, in its stored
/// type, with the uint8 map beside it: a slice is read and windowed when it is embedded (<see cref="WindowedVolume"/>),
/// and each mask is painted into the map as soon as it is made.
/// </summary>
public sealed class PromptVolumePredictor
{
    private readonly PromptableModel model;

    public PromptVolumePredictor(PromptableModel model, PredictOptions options)
    {
        options.Validate();
        this.model = model;
        Options = options;
    }

    public PredictOptions Options { get; }

    /// <summary>Slices embedded per volume at most before the oldest embeddings are dropped (they are recomputed when needed).</summary>
    public int EmbeddingCacheSlices { get; init; } = 64;

    /// <summary>The label map (uint8 on the input's grid) for <paramref name="objects"/>; prompts are checked first.</summary>
    public NiftiImage Predict(NiftiImage image, IReadOnlyList<PromptedObject> objects, string source, Action<int, int>? progress = null)
    {
        var slicer = new VolumeSlicer(WindowedVolume.SpatialShape(image.Shape, source), Options.SliceAxis);
        foreach (var o in objects)
            o.Validate(slicer, source);
        var volume = new WindowedVolume(image, Options, source);
        var labels = new LabelMap(slicer);
        using var embeddings = new EmbeddingCache(model, volume, EmbeddingCacheSlices);
        for (int i = 0; i < objects.Count; i++)
        {
            SegmentObject(objects[i], slicer, embeddings, labels);
            progress?.Invoke(i + 1, objects.Count);
        }
        return NiftiImage.FromStored(image.Header, image.Shape, NiftiDataType.UInt8, labels.Labels);
    }

    /// <summary>Predicts one file and writes the label map (temporary file, then rename) and the overlay with the boxes.</summary>
    public PredictResult PredictFile(string inputPath, string outputPath, IReadOnlyList<PromptedObject> objects, Action<int, int>? progress = null)
    {
        if (Path.GetFullPath(inputPath) == Path.GetFullPath(outputPath))
            throw new ArgumentException($"{outputPath}: the output would overwrite the input volume");
        var watch = Stopwatch.StartNew();
        var image = Nifti.Read(inputPath);
        var labels = Predict(image, objects, inputPath, progress);
        string? directory = Path.GetDirectoryName(Path.GetFullPath(outputPath));
        if (directory is not null)
            Directory.CreateDirectory(directory);
        Nifti.Write(outputPath, labels);

        int maxLabel = Math.Max(1, objects.Max(o => o.Label));
        var counts = new long[maxLabel + 1];
        foreach (byte label in labels.RawData)
            counts[label]++;
        string? overlay = null;
        if (Options.OverlayDir is not null)
        {
            overlay = Path.Combine(Options.OverlayDir, VolumePredictor.NiftiStem(inputPath) + "_overlay.png");
            var volume = new WindowedVolume(image, Options, inputPath);
            var boxes = objects.Where(o => o.Box is not null)
                .Select(o => new OverlayBox(o.Label, o.Box!.X0, o.Box.Y0, o.Box.X1, o.Box.Y1, o.Box.SliceStart, o.Box.SliceEnd)).ToList();
            var names = Options.ClassNames is { } known && known.Count >= maxLabel
                ? known
                : [.. Enumerable.Range(1, maxLabel).Select(l => $"label {l}")];
            OverlayMontage.Write(overlay, volume.Slicer, volume.Slice, labels.RawData, names, image.Orientation, boxes);
        }
        return new PredictResult(inputPath, outputPath, image.Shape, counts, watch.Elapsed, overlay);
    }

    /// <summary>Segments one object slice by slice, each mask painted with the object's label as soon as it is made.</summary>
    private void SegmentObject(PromptedObject o, VolumeSlicer slicer, EmbeddingCache embeddings, LabelMap labels)
    {
        var size = (slicer.Rows, slicer.Columns);
        var clicks = o.Points.GroupBy(p => Coordinates(p, slicer).Slice).ToDictionary(g => g.Key, g => g.ToList());
        // The bounding box of each segmented slice's mask (null: empty), all that propagation reads of a finished slice.
        var boxes = new Dictionary<int, (double X0, double Y0, double X1, double Y1)?>();
        SlicePrompt PromptOn(int slice)
        {
            var points = clicks.TryGetValue(slice, out var list)
                ? list.Select(p => { var c = Coordinates(p, slicer); return ((double)c.Column, (double)c.Row, p.Positive ? 1 : 0); }).ToList()
                : [];
            (double, double, double, double)? box = o.Box is { } b && slice >= b.SliceStart && slice <= b.SliceEnd ? (b.X0, b.Y0, b.X1, b.Y1) : null;
            return new SlicePrompt(points, box);
        }
        void Segment(int slice, SlicePrompt prompt)
        {
            var mask = model.Segment(embeddings.Get(slice), size, prompt).Mask;
            boxes[slice] = BoundingBox(mask);
            labels.Paint(slice, mask, (byte)o.Label);
        }

        var seeds = new SortedSet<int>(clicks.Where(kv => kv.Value.Any(p => p.Positive)).Select(kv => kv.Key));
        if (o.Box is { } range)
            for (int s = range.SliceStart; s <= range.SliceEnd; s++)
                seeds.Add(s);
        foreach (int s in seeds)
            Segment(s, PromptOn(s));
        if (o.Box is null)
            Propagate(boxes, seeds, slicer.SliceCount, Segment);
    }

    /// <summary>Fills the gaps between clicked slices and continues past the outermost ones with the previous mask's box.</summary>
    private static void Propagate(
        Dictionary<int, (double X0, double Y0, double X1, double Y1)?> boxes, SortedSet<int> seeds, int sliceCount, Action<int, SlicePrompt> segment)
    {
        bool Step(int from, int to)
        {
            if (to < 0 || to >= sliceCount || boxes.ContainsKey(to) || !boxes.TryGetValue(from, out var previous) || previous is not { } box)
                return false;
            segment(to, new SlicePrompt([], box));
            return boxes[to] is not null;
        }
        for (int s = seeds.Min; s < seeds.Max; s++)
            Step(s, s + 1);
        for (int s = seeds.Max; Step(s, s + 1); s++)
        {
        }
        for (int s = seeds.Min; Step(s, s - 1); s--)
        {
        }
    }

    /// <summary>Inclusive (x0, y0, x1, y1) of a mask's pixels, null when it is empty.</summary>
    public static (double X0, double Y0, double X1, double Y1)? BoundingBox(bool[,] mask)
    {
        // A bool[,] is its rows one after the other: the flat mask PromptSampler.Bounds reads.
        var pixels = MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<byte, bool>(ref MemoryMarshal.GetArrayDataReference(mask)), mask.Length);
        return PromptSampler.Bounds(pixels, mask.GetLength(0), mask.GetLength(1)) is { } b ? (b.X0, b.Y0, b.X1, b.Y1) : null;
    }

    /// <summary>A voxel's slice index and its column and row within the slice.</summary>
    private static (int Slice, int Column, int Row) Coordinates(VoxelPoint p, VolumeSlicer slicer)
    {
        int[] xyz = [p.X, p.Y, p.Z];
        return (xyz[slicer.SliceAxis], xyz[slicer.ColumnAxis], xyz[slicer.RowAxis]);
    }

    /// <summary>
    /// The uint8 label map masks are painted into as they are made. Every <see cref="SlicesPerCollection"/> masks, the
    /// garbage of those slices (at 512 x 512: the slice and its flat copy, 2 MB, when it is embedded; the mask and its
    /// copy, 0.5 MB) is collected and glibc's heap trimmed (<see cref="BatchGarbage"/>), between the model's calls and
    /// so outside their no-GC regions.
    /// </summary>
    private sealed class LabelMap(VolumeSlicer slicer)
    {
        public const int SlicesPerCollection = 8;

        private int painted;

        public byte[] Labels { get; } = new byte[(long)slicer.Shape[0] * slicer.Shape[1] * slicer.Shape[2]];

        public void Paint(int slice, bool[,] mask, byte label)
        {
            for (int r = 0; r < slicer.Rows; r++)
                for (int c = 0; c < slicer.Columns; c++)
                    if (mask[r, c])
                        Labels[slicer.FlatIndex(slice, r, c)] = label;
            if (++painted % SlicesPerCollection == 0)
                BatchGarbage.Release();
        }
    }

    /// <summary>Slice embeddings computed once and kept (up to a bound) while the objects of a volume are segmented.</summary>
    private sealed class EmbeddingCache(PromptableModel model, WindowedVolume volume, int capacity) : IDisposable
    {
        private readonly Dictionary<int, Tensor> cache = [];
        private readonly Queue<int> order = new();

        public Tensor Get(int slice)
        {
            if (cache.TryGetValue(slice, out var embedding))
                return embedding;
            if (cache.Count >= Math.Max(1, capacity))
            {
                int oldest = order.Dequeue();
                cache[oldest].Dispose();
                cache.Remove(oldest);
            }
            embedding = model.EmbedSlice(volume.Slice(slice));
            cache[slice] = embedding;
            order.Enqueue(slice);
            return embedding;
        }

        public void Dispose()
        {
            foreach (var tensor in cache.Values)
                tensor.Dispose();
            cache.Clear();
        }
    }
}
