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
        Strides = StridesOf(Shape);

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

    /// <summary>
    /// The grid of one slice along axis 0 (axes 1.., their spacing), or null for a one-dimensional grid, whose slice
    /// is a single voxel with no in-slice neighbours.
    /// </summary>
    public VoxelGrid? Slice() => Rank > 1 ? new VoxelGrid(Shape[1..], Spacing[1..]) : null;

    /// <summary>Steps C-order coordinates to the next voxel; axes before <paramref name="firstAxis"/> stay put.</summary>
    public void Advance(int[] coordinates, int firstAxis = 0)
    {
        for (int axis = Rank - 1; axis >= firstAxis; axis--)
        {
            if (++coordinates[axis] < Shape[axis])
                break;
            coordinates[axis] = 0;
        }
    }

    /// <summary>C-order strides (in elements) of an array of this shape.</summary>
    public static long[] StridesOf(IReadOnlyList<int> shape)
    {
        var strides = new long[shape.Count];
        long stride = 1;
        for (int axis = shape.Count - 1; axis >= 0; axis--)
        {
            strides[axis] = stride;
            stride *= shape[axis];
        }

        return strides;
    }

    /// <summary>Throws when a flat array does not hold exactly one value per voxel.</summary>
    public void RequireLength(int length, string what)
    {
        if (length != Count)
            throw new ArgumentException($"{what} has {length} voxels but shape [{string.Join(", ", Shape)}] needs {Count}");
    }

    public override string ToString() => $"[{string.Join(", ", Shape)}]";
}
