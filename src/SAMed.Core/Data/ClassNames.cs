namespace SAMed.Data;

/// <summary>Class names for reports and overlays: SAMed's Synapse organs (test.py class_to_name) or "class i".</summary>
public static class ClassNames
{
    /// <summary>test.py class_to_name, classes 1..8.</summary>
    public static IReadOnlyList<string> Synapse { get; } =
        ["spleen", "right kidney", "left kidney", "gallbladder", "liver", "stomach", "aorta", "pancreas"];

    /// <summary>The eight Synapse organ names when there are eight classes, otherwise "class 1".."class N".</summary>
    public static IReadOnlyList<string> For(int numClasses)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);
        return numClasses == Synapse.Count ? Synapse : [.. Enumerable.Range(1, numClasses).Select(Generic)];
    }

    public static string Generic(int classIndex) => $"class {classIndex}";
}
