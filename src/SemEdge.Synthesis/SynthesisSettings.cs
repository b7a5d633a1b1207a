using System.Globalization;

namespace SemEdge.Synthesis;

/// <summary>How large defects are drawn: today's subtle ones, large high-contrast ones, or a mixture of both.</summary>
public enum DefectProminence
{
    Subtle,
    Mixed,
    Large,
}

/// <summary>
/// What the frames look like: review-tool frames (data bar, cross-hair), crops cut from published figures
/// (panel letters, labels, arrows, white margins, tilt, JPEG, a grey mapping), or a mixture.
/// </summary>
public enum FrameStyle
{
    Review,
    Figure,
    Mixed,
}

/// <summary>
/// The distribution the generator draws from. <see cref="Pretraining"/> is the mix the shipped models train on;
/// other values draw a shifted domain (a proxy benchmark) from the same renderers. Every setting is
/// class-neutral: it changes all classes, clean included, in the same way.
/// </summary>
public sealed record SynthesisSettings
{
    public const double MinMagnification = 0.25;
    public const double MaxMagnification = 8;

    /// <summary>The pretraining mix: a wide magnification range, mixed prominence, a third figure crops.</summary>
    public static SynthesisSettings Pretraining { get; } = new();

    /// <summary>The generator as it was before the wider mix (narrow scale, subtle defects, review frames only).</summary>
    public static SynthesisSettings Legacy { get; } = new()
    {
        Magnification = (1, 1),
        Prominence = DefectProminence.Subtle,
        Style = FrameStyle.Review,
        FigureCropRate = 0,
        Contrast = (0.75, 1.3),
    };

    /// <summary>
    /// Pattern scale relative to the legacy generator, drawn log-uniform in [Min, Max]: 1 draws gratings of 7 to 20
    /// lines across the frame, 3 draws 2 to 7 thick lines and contacts a fifth of the frame wide.
    /// </summary>
    public (double Min, double Max) Magnification { get; init; } = (0.7, 3.5);

    /// <summary>How large and how strong defects are; <see cref="DefectProminence.Mixed"/> is half and half.</summary>
    public DefectProminence Prominence { get; init; } = DefectProminence.Mixed;

    /// <summary>Frame style; <see cref="FrameStyle.Mixed"/> makes a frame a figure crop with <see cref="FigureCropRate"/>.</summary>
    public FrameStyle Style { get; init; } = FrameStyle.Mixed;

    /// <summary>Share of figure crops under <see cref="FrameStyle.Mixed"/> (ignored by the other styles).</summary>
    public double FigureCropRate { get; init; } = 0.35;

    /// <summary>Detector gain drawn uniform in [Min, Max] (the legacy generator drew 0.75 to 1.3).</summary>
    public (double Min, double Max) Contrast { get; init; } = (0.6, 1.5);

    /// <summary>The share of frames drawn as figure crops.</summary>
    public double FigureShare => Style switch
    {
        FrameStyle.Review => 0,
        FrameStyle.Figure => 1,
        _ => FigureCropRate,
    };

    public void Validate()
    {
        var (lo, hi) = Magnification;
        if (!(lo >= MinMagnification && hi <= MaxMagnification && lo <= hi))
        {
            throw new ArgumentException($"magnification must be MIN:MAX with {MinMagnification.ToString(CultureInfo.InvariantCulture)} <= MIN <= MAX <= {MaxMagnification.ToString(CultureInfo.InvariantCulture)}");
        }
        if (!(FigureCropRate >= 0 && FigureCropRate <= 1))
        {
            throw new ArgumentException("figure crop rate must be 0..1");
        }
        var (cl, ch) = Contrast;
        if (!(cl >= 0.2 && ch <= 3 && cl <= ch))
        {
            throw new ArgumentException("contrast must be MIN:MAX with 0.2 <= MIN <= MAX <= 3");
        }
    }

    /// <summary>Parses <c>MIN:MAX</c> (or one number for a fixed value), invariant culture.</summary>
    public static bool TryParseRange(string text, out (double Min, double Max) range)
    {
        range = default;
        var parts = text.Split(':');
        if (parts.Length is < 1 or > 2)
        {
            return false;
        }
        if (!double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var lo))
        {
            return false;
        }
        var hi = lo;
        if (parts.Length == 2 && !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out hi))
        {
            return false;
        }
        range = (lo, hi);
        return double.IsFinite(lo) && double.IsFinite(hi);
    }

    /// <summary>A one-line description for logs and the synth summary.</summary>
    public string Describe() => string.Format(CultureInfo.InvariantCulture,
        "magnification {0:0.##}:{1:0.##}, prominence {2}, style {3}, figure crops {4:0.##}, contrast {5:0.##}:{6:0.##}",
        Magnification.Min, Magnification.Max, Prominence.ToString().ToLowerInvariant(), Style.ToString().ToLowerInvariant(),
        FigureShare, Contrast.Min, Contrast.Max);
}
