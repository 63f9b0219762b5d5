namespace SAMed.Data;

/// <summary>Which parts of a Synapse-layout data set a validation pass checks.</summary>
[Flags]
public enum ValidationParts
{
    Train = 1,
    Test = 2,
    All = Train | Test,
}
