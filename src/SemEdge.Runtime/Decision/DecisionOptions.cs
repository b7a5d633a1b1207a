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
    [Range(0.0, 1.0)]
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

/// <summary>
/// The data-annotation attributes of <see cref="DecisionOptions"/> (<c>[Range]</c>), checked by code the options
/// source generator writes: what <c>ValidateDataAnnotations()</c> does, without its reflection, which is not
/// trim-safe (the board bundle is trimmed with trim warnings as errors). <see cref="DecisionPolicy.ValidateSettings"/>
/// runs it, so start-up, the doctor and every model load see the same one line per problem.
/// </summary>
[Microsoft.Extensions.Options.OptionsValidator]
internal sealed partial class DecisionOptionsAnnotations : Microsoft.Extensions.Options.IValidateOptions<DecisionOptions>
{
    /// <summary>
    /// The attribute failures in the technician's words, naming the key: the generated text
    /// "DefaultMinConfidence: The field DecisionOptions.DefaultMinConfidence must be between 0 and 1." becomes
    /// "Decision:DefaultMinConfidence must be between 0 and 1." (the generator's copy of [Range] ignores ErrorMessage).
    /// </summary>
    public IEnumerable<string> Failures(DecisionOptions options)
    {
        var result = Validate(null, options);
        if (!result.Failed)
        {
            yield break;
        }

        foreach (var failure in result.Failures ?? [])
        {
            var colon = failure.IndexOf(": ", StringComparison.Ordinal);
            var text = colon > 0 ? failure[(colon + 2)..] : failure;
            yield return text.Replace($"The field {nameof(DecisionOptions)}.", $"{DecisionOptions.SectionName}:", StringComparison.Ordinal);
        }
    }
}
