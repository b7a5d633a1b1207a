using System.ComponentModel.DataAnnotations;

namespace SemEdge.Decision;

/// <summary>
/// How classes become actions and numbers (config section "Decision"). Defaults: clean → pass, every defect class →
/// reject, other → review, and any answer below its confidence threshold → review; the class table numbers the
/// ten classes 0..9 (<see cref="ClassTable.DefaultNames"/>).
/// </summary>
public sealed class DecisionOptions
{
    public const string SectionName = "Decision";

    /// <summary>
    /// The class table, the contract with the line: the number a verdict's <c>class</c> carries for each label,
    /// e.g. <c>{"vias": 8}</c>. Configured entries renumber or add to the defaults (clean=0 ... other=9).
    /// </summary>
    public Dictionary<string, int> ClassNumbers { get; set; } = ClassTable.DefaultNumbers();

    /// <summary>Per-class action overrides, e.g. <c>{"ler": "Review"}</c>; classes not listed keep the default.</summary>
    public Dictionary<string, VerdictAction> Actions { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Per-class minimum confidence, e.g. <c>{"crack": 0.8}</c>; classes not listed use <see cref="DefaultMinConfidence"/>.</summary>
    public Dictionary<string, float> MinConfidence { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Below this confidence the part goes to a human (review) whatever the class.</summary>
    [Range(0.0, 1.0, ErrorMessage = "Decision:DefaultMinConfidence must be between 0 and 1 (a probability).")]
    public float DefaultMinConfidence { get; set; } = 0.5f;
}

/// <summary>
/// Start-up checks of the Decision section that need no model: the class table is a table, and every per-class
/// setting names a class the table knows (a typo would otherwise never match). The model is checked against both
/// whenever one is loaded (<see cref="DecisionPolicy"/>), at start and at every hot swap.
/// </summary>
public sealed class DecisionOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<DecisionOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, DecisionOptions options)
    {
        var errors = DecisionPolicy.ValidateSettings(options);
        return errors.Count == 0
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Success
            : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(errors);
    }
}
