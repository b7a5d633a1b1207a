namespace SemEdge.Decision;

/// <summary>
/// Maps the classifier's answer to what the line does and to the number it reads. Built once per classifier, at
/// start and at every hot swap: it maps the model's classes onto the class table by name (a model with a class
/// the table does not know is refused) and checks the configured per-class settings, so a typo in the config or
/// a relabelled model fails the load instead of silently never matching or moving a number.
/// </summary>
public sealed class DecisionPolicy
{
    public const string CleanLabel = "clean";
    public const string OtherLabel = "other";

    private readonly VerdictAction[] _actions;
    private readonly float[] _thresholds;
    private readonly IReadOnlyList<int> _numbers;

    /// <exception cref="ArgumentException">The settings are invalid, or the model does not fit the class table (the message says which class).</exception>
    public DecisionPolicy(DecisionOptions options, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(classes);
        var errors = Validate(options, classes);
        if (errors.Count > 0)
        {
            // No parameter name: the message goes to the log and doctor as it is.
            throw new ArgumentException(string.Join(" ", errors));
        }

        Classes = classes;
        Table = ClassTable.From(options.ClassNumbers);
        var mapping = Table.Map(classes);
        _numbers = mapping.Numbers;
        Missing = mapping.Missing;
        _actions = new VerdictAction[classes.Count];
        _thresholds = new float[classes.Count];
        for (var i = 0; i < classes.Count; i++)
        {
            var label = classes[i];
            _actions[i] = options.Actions.TryGetValue(label, out var action) ? action : DefaultAction(label);
            _thresholds[i] = options.MinConfidence.TryGetValue(label, out var min) ? min : options.DefaultMinConfidence;
        }
    }

    /// <summary>The model's classes in its logit order.</summary>
    public IReadOnlyList<string> Classes { get; }

    public ClassTable Table { get; }

    /// <summary>Table classes this model can never answer with.</summary>
    public IReadOnlyList<ClassNumber> Missing { get; }

    /// <summary>The class table's number for the model's class <paramref name="classId"/> (a logit index): what the line reads.</summary>
    public int NumberOf(int classId) => _numbers[classId];

    /// <summary>The action for class <paramref name="classId"/> answered with <paramref name="confidence"/>.</summary>
    public VerdictAction Decide(int classId, float confidence)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(classId);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(classId, _actions.Length);

        // A NaN confidence is never trusted: it fails the comparison and goes to review.
        return confidence >= _thresholds[classId] ? _actions[classId] : VerdictAction.Review;
    }

    public VerdictAction ActionFor(int classId) => _actions[classId];

    public float ThresholdFor(int classId) => _thresholds[classId];

    public static VerdictAction DefaultAction(string label) => label switch
    {
        CleanLabel => VerdictAction.Pass,
        OtherLabel => VerdictAction.Review,
        _ => VerdictAction.Reject,
    };

    /// <summary>
    /// Problems with <paramref name="options"/> for a model with these classes, in words a technician understands:
    /// the settings themselves (<see cref="ValidateSettings"/>) and every model class the table does not know.
    /// </summary>
    public static IReadOnlyList<string> Validate(DecisionOptions options, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(classes);
        var errors = ValidateSettings(options).ToList();
        if (errors.Count == 0)
        {
            errors.AddRange(ClassTable.From(options.ClassNumbers).Problems(classes));
        }

        return errors;
    }

    /// <summary>Problems with the settings alone: the class table, and per-class settings naming a class the table does not know.</summary>
    public static IReadOnlyList<string> ValidateSettings(DecisionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        // The attributes first ([Range] on DefaultMinConfidence), then what no attribute can say.
        var errors = new List<string>(new DecisionOptionsAnnotations().Failures(options));

        errors.AddRange(ClassTable.Validate(options.ClassNumbers));
        var known = string.Join(", ", options.ClassNumbers.OrderBy(kv => kv.Value).Select(kv => kv.Key));
        foreach (var (label, action) in options.Actions)
        {
            if (!options.ClassNumbers.ContainsKey(label))
            {
                errors.Add($"Decision:Actions names class '{label}', which the class table does not have (classes: {known}).");
            }

            if (!Enum.IsDefined(action))
            {
                errors.Add($"Decision:Actions:{label} is not Pass, Reject or Review.");
            }
        }

        foreach (var (label, min) in options.MinConfidence)
        {
            if (!options.ClassNumbers.ContainsKey(label))
            {
                errors.Add($"Decision:MinConfidence names class '{label}', which the class table does not have (classes: {known}).");
            }

            if (min is not (>= 0f and <= 1f))
            {
                errors.Add($"Decision:MinConfidence:{label} is {min}; it must be between 0 and 1.");
            }
        }

        return errors;
    }
}
