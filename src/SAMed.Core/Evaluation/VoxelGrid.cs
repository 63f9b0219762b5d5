namespace SAMed.Evaluation;

/// <summary>Shape (C order) and voxel spacing of an N-dimensional volume, validated once.</summary>
public sealed class VoxelGrid
{
    public VoxelGrid(IReadOnlyList<int> shape, IReadOnlyList<double>? spacing = null)
    {
        if (shape.Count == 0)
            throw new ArgumentException("a volume needs at least one axis", nameof(shape));
        if (shape.Any(d => d <= 0))
            throw new ArgumentException($"every axis of shape [{string.Join(", ", shape)}] must be positive", nameof(shape));
        Shape = [.. shape];
        Count = Shape.Aggregate(1L, (a, b) => checked(a * b));
        if (Count > Array.MaxLength)
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] holds too many voxels", nameof(shape));
        Strides = new long[Shape.Length];
        long stride = 1;
        for (int axis = Shape.Length - 1; axis >= 0; axis--)
        {
            Strides[axis] = stride;
            stride *= Shape[axis];
        }

        if (spacing is null)
        {
            Spacing = [.. Enumerable.Repeat(1.0, Shape.Length)];
        }
        else
        {
            if (spacing.Count != Shape.Length)
                throw new ArgumentException(
                    $"spacing has {spacing.Count} values but shape [{string.Join(", ", shape)}] has {Shape.Length} axes", nameof(spacing));
            if (spacing.Any(s => !double.IsFinite(s) || s <= 0))
                throw new ArgumentException($"spacing [{string.Join(", ", spacing)}] must be finite and positive", nameof(spacing));
            Spacing = [.. spacing];
        }
    }

    public int[] Shape { get; }
    public double[] Spacing { get; }
    public long[] Strides { get; }
    public long Count { get; }
    public int Rank => Shape.Length;

    /// <summary>Throws when a flat array does not hold exactly one value per voxel.</summary>
    public void RequireLength(int length, string what)
    {
        if (length != Count)
            throw new ArgumentException($"{what} has {length} voxels but shape [{string.Join(", ", Shape)}] needs {Count}");
    }

    public override string ToString() => $"[{string.Join(", ", Shape)}]";
}
