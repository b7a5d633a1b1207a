using System.ComponentModel.DataAnnotations;

namespace SemEdge.Decision;

/// <summary>
/// How classes become actions (config section "Decision"). Defaults: clean → pass, every defect class → reject,
/// other → review, and any answer below its confidence threshold → review.
/// </summary>
public sealed class DecisionOptions
{
    public const string SectionName = "Decision";

    /// <summary>Per-class action overrides, e.g. <c>{"ler": "Review"}</c>; classes not listed keep the default.</summary>
    public Dictionary<string, VerdictAction> Actions { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Per-class minimum confidence, e.g. <c>{"crack": 0.8}</c>; classes not listed use <see cref="DefaultMinConfidence"/>.</summary>
    public Dictionary<string, float> MinConfidence { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Below this confidence the part goes to a human (review) whatever the class.</summary>
    [Range(0.0, 1.0, ErrorMessage = "Decision:DefaultMinConfidence must be between 0 and 1 (a probability).")]
    public float DefaultMinConfidence { get; set; } = 0.5f;
}
