namespace SemEdge.Decision;

/// <summary>One row of the class table: the number the line (PLC) reads for a label.</summary>
public readonly record struct ClassNumber(int Number, string Label);

/// <summary>
/// The contract with the line: every class name the plant knows and the number a verdict's <c>class</c> carries
/// for it, whatever a model's internal (logit) order. Models map onto it by name (<see cref="Map"/>), so a
/// retrained model with its classes in another order, or with a class fewer, publishes the same numbers.
/// Defaults: <see cref="DefaultNames"/> numbered 0..9; <c>Decision:ClassNumbers</c> renumbers or adds classes.
/// </summary>
public sealed class ClassTable
{
    /// <summary>The ten inspection classes, numbered 0..9 in this order by default.</summary>
    public static IReadOnlyList<string> DefaultNames { get; } =
        ["clean", "bridge", "cmp", "crack", "ler", "open", "particle", "scratch", "vias", "other"];

    private readonly Dictionary<string, int> _numbers;

    private ClassTable(Dictionary<string, int> numbers)
    {
        _numbers = numbers;
        Entries = [.. numbers.Select(kv => new ClassNumber(kv.Value, kv.Key)).OrderBy(e => e.Number)];
    }

    /// <summary>The rows, by number.</summary>
    public IReadOnlyList<ClassNumber> Entries { get; }

    public static Dictionary<string, int> DefaultNumbers() =>
        DefaultNames.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i, StringComparer.Ordinal);

    /// <summary>The table of <paramref name="numbers"/>.</summary>
    /// <exception cref="ArgumentException">The numbers are not a table (see <see cref="Validate"/>).</exception>
    public static ClassTable From(IReadOnlyDictionary<string, int> numbers)
    {
        ArgumentNullException.ThrowIfNull(numbers);
        var errors = Validate(numbers);
        return errors.Count == 0
            ? new ClassTable(new Dictionary<string, int>(numbers, StringComparer.Ordinal))
            : throw new ArgumentException(string.Join(" ", errors), nameof(numbers));
    }

    /// <summary>What is wrong with <paramref name="numbers"/> as a class table, in words for the technician.</summary>
    public static IReadOnlyList<string> Validate(IReadOnlyDictionary<string, int> numbers)
    {
        var errors = new List<string>();
        if (numbers.Count == 0)
        {
            errors.Add("Decision:ClassNumbers is empty; the line needs a number for every class.");
        }

        foreach (var (label, number) in numbers)
        {
            if (string.IsNullOrWhiteSpace(label))
            {
                errors.Add("Decision:ClassNumbers has an empty class name.");
            }

            if (number < 0)
            {
                errors.Add($"Decision:ClassNumbers:{label} is {number}; class numbers must be 0 or more.");
            }
        }

        foreach (var clash in numbers.GroupBy(kv => kv.Value).Where(g => g.Count() > 1))
        {
            errors.Add($"Decision:ClassNumbers gives number {clash.Key} to {string.Join(" and ", clash.Select(kv => kv.Key).Order(StringComparer.Ordinal))}; " +
                "each number must name one class, or the line cannot tell them apart.");
        }

        return errors;
    }

    public bool Knows(string label) => _numbers.ContainsKey(label);

    /// <summary>The number of <paramref name="label"/>.</summary>
    /// <exception cref="KeyNotFoundException">The table does not know the label.</exception>
    public int NumberOf(string label) => _numbers.TryGetValue(label, out var number)
        ? number
        : throw new KeyNotFoundException($"the class table has no class '{label}'");

    /// <summary>
    /// Maps a model's classes (in its logit order) onto the table: the table number of each, and the table's
    /// classes the model cannot produce.
    /// </summary>
    /// <exception cref="ArgumentException">The model has a class the table does not know (named), or twice.</exception>
    public ClassMapping Map(IReadOnlyList<string> modelClasses)
    {
        var problems = Problems(modelClasses);
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems));
        }

        var numbers = modelClasses.Select(c => _numbers[c]).ToArray();
        var missing = Entries.Where(e => !modelClasses.Contains(e.Label)).ToList();
        return new ClassMapping(numbers, missing);
    }

    /// <summary>Why a model with <paramref name="modelClasses"/> cannot be mapped onto the table (empty when it can).</summary>
    public IReadOnlyList<string> Problems(IReadOnlyList<string> modelClasses)
    {
        ArgumentNullException.ThrowIfNull(modelClasses);
        var problems = new List<string>();
        var unknown = modelClasses.Where(c => !_numbers.ContainsKey(c)).Distinct(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            problems.Add(
                $"The model has class{(unknown.Count > 1 ? "es" : "")} {string.Join(", ", unknown.Select(c => $"'{c}'"))}, which the class table " +
                $"(Decision:ClassNumbers: {Describe()}) does not know: the line would get a number it was never told about. " +
                $"Add {(unknown.Count > 1 ? "them" : "it")} to Decision:ClassNumbers with a new number, e.g. Decision:ClassNumbers:{unknown[0]}={NextFree()}.");
        }

        var twice = modelClasses.GroupBy(c => c, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (twice.Count > 0)
        {
            problems.Add($"The model lists class {string.Join(", ", twice.Select(c => $"'{c}'"))} more than once.");
        }

        return problems;
    }

    /// <summary><c>clean=0, bridge=1, ...</c>, by number.</summary>
    public string Describe() => string.Join(", ", Entries.Select(e => $"{e.Label}={e.Number}"));

    private int NextFree() => Entries.Count == 0 ? 0 : Entries[^1].Number + 1;
}

/// <summary>A model's classes on the table: <see cref="Numbers"/>[logit index] is the table number.</summary>
/// <param name="Missing">Table classes the model cannot produce, by number.</param>
public sealed record ClassMapping(IReadOnlyList<int> Numbers, IReadOnlyList<ClassNumber> Missing);
