using System.Reflection;
using System.Text.RegularExpressions;
using SAMed.Evaluation;

namespace SAMed.Tests.Architecture;

/// <summary>
/// The guide's one-way data flow: Evaluation (metrics, reports) does not depend on Inference, nor the reverse; what
/// combines them (SAMed.VolumeTesting) sits after both.
/// </summary>
public class NamespaceLayeringTests
{
    private const BindingFlags Declared =
        BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Assembly Core = typeof(EvaluationReport).Assembly;

    [Theory]
    [InlineData("SAMed.Evaluation", "SAMed.Inference")]
    [InlineData("SAMed.Inference", "SAMed.Evaluation")]
    public void NoTypeOfOneNamespaceNamesATypeOfTheOther(string from, string to)
    {
        var types = Core.GetTypes();
        Assert.Contains(types, t => InNamespace(t, from));
        Assert.Contains(types, t => InNamespace(t, to));
        var uses = types.Where(t => InNamespace(t, from))
            .SelectMany(t => TypesNamedBy(t).Where(used => InNamespace(used, to)).Select(used => $"{t.FullName} uses {used.FullName}"))
            .Distinct()
            .ToList();
        Assert.True(uses.Count == 0, $"{from} depends on {to}:\n{string.Join("\n", uses)}");
    }

    [SkippableTheory]
    [InlineData("Evaluation", "Inference")]
    [InlineData("Inference", "Evaluation")]
    public void NoSourceFileOfOneFolderNamesTheOtherNamespace(string from, string to)
    {
        string? folder = CoreSourceFolder(from);
        Skip.If(folder is null, "the source tree is not beside the test binaries");
        var files = Directory.GetFiles(folder, "*.cs", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        // "SAMed.Inference" anywhere (using, alias, global::), or "Inference.X" qualified from the parent namespace SAMed.
        var reference = new Regex($@"\bSAMed\.{to}\b|(?<![\w.]){to}\.[A-Za-z_]");
        var hits = files
            .SelectMany(file => File.ReadLines(file).Select((line, index) => (file, line, number: index + 1)))
            .Where(h => reference.IsMatch(h.line))
            .Select(h => $"{Path.GetRelativePath(folder, h.file)}:{h.number}: {h.line.Trim()}")
            .ToList();
        Assert.True(hits.Count == 0, $"src/SAMed.Core/{from} names SAMed.{to}:\n{string.Join("\n", hits)}");
    }

    private static bool InNamespace(Type type, string ns) =>
        type.Namespace is { } name && (name == ns || name.StartsWith(ns + ".", StringComparison.Ordinal));

    /// <summary>
    /// The types a type names in its declaration: base type, interfaces, attributes, fields, properties, events, and
    /// its methods' and constructors' parameters, return types and local variables (lambdas and iterators are nested
    /// compiler-made types, so their captures and locals are seen through them), with array elements and generic
    /// arguments.
    /// </summary>
    private static IEnumerable<Type> TypesNamedBy(Type type)
    {
        var named = new List<Type?> { type.BaseType };
        named.AddRange(type.GetInterfaces());
        named.AddRange(type.GetCustomAttributesData().Select(a => a.AttributeType));
        named.AddRange(type.GetFields(Declared).Select(f => f.FieldType));
        named.AddRange(type.GetProperties(Declared).Select(p => p.PropertyType));
        named.AddRange(type.GetEvents(Declared).Select(e => e.EventHandlerType));
        foreach (var method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            if (method is MethodInfo info)
                named.Add(info.ReturnType);
            named.AddRange(method.GetParameters().Select(p => p.ParameterType));
            named.AddRange(method.GetMethodBody()?.LocalVariables.Select(l => l.LocalType) ?? []);
        }
        return named.OfType<Type>().SelectMany(Constituents).Distinct();
    }

    private static IEnumerable<Type> Constituents(Type type)
    {
        if (type.HasElementType)
            return Constituents(type.GetElementType()!);
        if (type.IsGenericType && !type.IsGenericTypeDefinition)
            return type.GetGenericArguments().SelectMany(Constituents).Prepend(type.GetGenericTypeDefinition());
        return [type];
    }

    /// <summary>src/SAMed.Core/<paramref name="name"/> of the repository above the test binaries, or null.</summary>
    private static string? CoreSourceFolder(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SAMed.sln")))
            {
                string folder = Path.Combine(dir.FullName, "src", "SAMed.Core", name);
                return Directory.Exists(folder) ? folder : null;
            }
        }
        return null;
    }
}
