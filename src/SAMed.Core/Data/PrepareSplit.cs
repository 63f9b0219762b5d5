namespace SAMed.Data;

/// <summary>Which cases become training slices and which become test volumes.</summary>
public sealed record PrepareSplit(IReadOnlyList<PrepareCase> Train, IReadOnlyList<PrepareCase> Test)
{
    /// <summary>The twelve test cases of SAMed's Synapse split (preprocess_data.py's test_data).</summary>
    public static IReadOnlyList<int> SynapseTestNumbers { get; } = [1, 2, 3, 4, 8, 22, 25, 29, 32, 35, 36, 38];

    /// <summary>
    /// Splits by case. <see cref="PrepareOptions.TestCases"/> names cases ("case0001", "1", or "synapse" for SAMed's
    /// twelve); a name that is not among the cases is an error, except for the "synapse" preset, which takes those present.
    /// <see cref="PrepareOptions.TestFraction"/> takes round(fraction · cases) cases (at least one when above 0) chosen by a
    /// seeded shuffle. With neither, every case trains. Cases keep their input order in both lists.
    /// </summary>
    public static PrepareSplit Make(IReadOnlyList<PrepareCase> cases, PrepareOptions options)
    {
        if (options.TestCases is not null && options.TestFraction is not null)
            throw new ArgumentException("give either test cases or a test fraction, not both");
        HashSet<string> test;
        if (options.TestCases is { } names)
        {
            test = [];
            var known = cases.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
            foreach (string raw in names.Select(n => n.Trim()).Where(n => n.Length > 0))
            {
                if (raw.Equals("synapse", StringComparison.OrdinalIgnoreCase))
                {
                    test.UnionWith(SynapseTestNumbers.Select(PrepareCases.CaseName).Where(known.Contains));
                    continue;
                }
                string name = PrepareCases.CaseName(raw);
                if (!known.Contains(name))
                    throw new ArgumentException($"test case '{raw}' ({name}) is not among the cases: {string.Join(", ", known.Order(StringComparer.Ordinal))}");
                test.Add(name);
            }
        }
        else if (options.TestFraction is double fraction)
        {
            if (fraction is < 0 or > 1 || double.IsNaN(fraction))
                throw new ArgumentOutOfRangeException(nameof(options), fraction, "test fraction must be in [0, 1]");
            int count = (int)Math.Round(fraction * cases.Count, MidpointRounding.AwayFromZero);
            if (fraction > 0 && cases.Count > 0)
                count = Math.Clamp(count, 1, cases.Count);
            var order = cases.Select(c => c.Name).ToArray();
            new Random(options.Seed).Shuffle(order);
            test = order.Take(count).ToHashSet(StringComparer.Ordinal);
        }
        else
        {
            test = [];
        }

        var testCases = cases.Where(c => test.Contains(c.Name)).ToList();
        var trainCases = cases.Where(c => options.TestCasesAlsoTrain || !test.Contains(c.Name)).ToList();
        return new PrepareSplit(trainCases, testCases);
    }
}
