namespace SAMed.Tests.Reference;

/// <summary>Where the shared reference data lives: ../shared beside the repository, or $SAMED_SHARED.</summary>
public static class SharedPaths
{
    public static string Root { get; } = FindShared();

    public static string ReferenceDir => Path.Combine(Root, "reference");
    public static string DataDir => Path.Combine(Root, "data");
    public static string Reference(params string[] parts) => Path.Combine([ReferenceDir, .. parts]);
    public static string Data(params string[] parts) => Path.Combine([DataDir, .. parts]);

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    private static string FindShared()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("SAMED_SHARED");
        if (!string.IsNullOrEmpty(fromEnvironment))
            return Path.GetFullPath(fromEnvironment);
        return Path.GetFullPath(Path.Combine(FindRepositoryRoot(), "..", "shared"));
    }

    private static string FindRepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SAMed.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("SAMed.sln not found above the test binaries");
    }
}
