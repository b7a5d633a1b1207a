namespace SemEdge.Decision;

/// <summary>
/// Maps the classifier's answer to what the line does. Built once per classifier (it checks the configured class
/// names against the model's classes, so a typo in the config fails start-up instead of silently never matching).
/// </summary>
public sealed class DecisionPolicy
{
    public const string CleanLabel = "clean";
    public const string OtherLabel = "other";

    private readonly VerdictAction[] _actions;
    private readonly float[] _thresholds;

    public DecisionPolicy(DecisionOptions options, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(classes);
        var errors = Validate(options, classes);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        }

        Classes = classes;
        _actions = new VerdictAction[classes.Count];
        _thresholds = new float[classes.Count];
        for (var i = 0; i < classes.Count; i++)
        {
            var label = classes[i];
            _actions[i] = options.Actions.TryGetValue(label, out var action) ? action : DefaultAction(label);
            _thresholds[i] = options.MinConfidence.TryGetValue(label, out var min) ? min : options.DefaultMinConfidence;
        }
    }

    public IReadOnlyList<string> Classes { get; }

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

    /// <summary>Problems with <paramref name="options"/> for these classes, in words a technician understands.</summary>
    public static IReadOnlyList<string> Validate(DecisionOptions options, IReadOnlyList<string> classes)
    {
        var errors = new List<string>();
        if (options.DefaultMinConfidence is not (>= 0f and <= 1f))
        {
            errors.Add($"Decision:DefaultMinConfidence is {options.DefaultMinConfidence}; it must be between 0 and 1.");
        }

        var known = string.Join(", ", classes);
        foreach (var (label, action) in options.Actions)
        {
            if (!classes.Contains(label))
            {
                errors.Add($"Decision:Actions names class '{label}', which the model does not have (classes: {known}).");
            }

            if (!Enum.IsDefined(action))
            {
                errors.Add($"Decision:Actions:{label} is not Pass, Reject or Review.");
            }
        }

        foreach (var (label, min) in options.MinConfidence)
        {
            if (!classes.Contains(label))
            {
                errors.Add($"Decision:MinConfidence names class '{label}', which the model does not have (classes: {known}).");
            }

            if (min is not (>= 0f and <= 1f))
            {
                errors.Add($"Decision:MinConfidence:{label} is {min}; it must be between 0 and 1.");
            }
        }

        return errors;
    }
}
