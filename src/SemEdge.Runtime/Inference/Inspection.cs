using SemEdge.Decision;
using SemEdge.Imaging;

namespace SemEdge.Inference;

/// <summary>Everything known about one inspected image; <see cref="ToVerdict"/> makes the published record.</summary>
public sealed record Inspection
{
    /// <summary>Image file name (no folders).</summary>
    public required string Image { get; init; }

    /// <summary>The class table's number for <see cref="Label"/>: what the line reads, whatever the model's order.</summary>
    public required int ClassId { get; init; }

    /// <summary>The model's own index of <see cref="Label"/> (its logit order); never published.</summary>
    public required int ModelClassIndex { get; init; }

    public required string Label { get; init; }

    public required float Confidence { get; init; }

    public required VerdictAction Action { get; init; }

    /// <summary>Execution provider of the model that decided, e.g. <c>cpu</c>, <c>vsinpu</c>.</summary>
    public required string Provider { get; init; }

    public required string ModelId { get; init; }

    public required string ModelSha { get; init; }

    public required ImageFormat Format { get; init; }

    public required int Width { get; init; }

    public required int Height { get; init; }

    /// <summary>Reading the file (0 when bytes were passed in).</summary>
    public required double ReadMs { get; init; }

    public required double DecodeMs { get; init; }

    public required double PreprocessMs { get; init; }

    public required double InferenceMs { get; init; }

    /// <summary>A screen model ran on this image.</summary>
    public required bool ScreenRan { get; init; }

    /// <summary>The screen called it clean and the classifier was skipped.</summary>
    public required bool ScreenShortCircuited { get; init; }

    /// <summary>The screen's P(defect), or NaN without a screen.</summary>
    public required float DefectProbability { get; init; }

    /// <summary>Decode + preprocess + inference, the figure carried in verdicts.</summary>
    public double LatencyMs => DecodeMs + PreprocessMs + InferenceMs;

    public double TotalMs => ReadMs + LatencyMs;

    public Verdict ToVerdict(DateTimeOffset timestamp) => new()
    {
        Image = Image,
        Timestamp = timestamp,
        ClassId = ClassId,
        Label = Label,
        Confidence = Confidence,
        Action = Action,
        ModelId = ModelId,
        ModelSha = ModelSha,
        Provider = Provider,
        LatencyMs = LatencyMs,
    };
}
