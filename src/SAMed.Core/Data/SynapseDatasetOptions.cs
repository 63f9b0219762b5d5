namespace SAMed.Data;

/// <param name="Preload">Read every slice into memory when the dataset is built (default: read each on demand).</param>
/// <param name="NumClasses">When set, labels above it (SAMed's classes are 0..num_classes) are rejected.</param>
public sealed record SynapseDatasetOptions(bool Preload = false, int? NumClasses = null);
