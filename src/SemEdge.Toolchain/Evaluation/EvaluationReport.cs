using System.Text.Json.Serialization;

namespace SemEdge.Toolchain.Evaluation;

/// <summary>The JSON report <c>semedge evaluate</c> writes (<c>REPORT_DIR/report.json</c>).</summary>
internal sealed record EvaluationReport
{
    public required string Model { get; init; }

    public required string ModelId { get; init; }

    public required string Kind { get; init; }

    public required string Format { get; init; }

    public required string Sha256 { get; init; }

    public required string Provider { get; init; }

    public required string Data { get; init; }

    public required int Images { get; init; }

    /// <summary>Files the runtime refused (they would be quarantined on the line), with the reason.</summary>
    public required IReadOnlyList<string> Unreadable { get; init; }

    /// <summary>
    /// Classifier only: the class table's number for each of the model's classes, the numbers the daemon publishes
    /// and <c>classify --json</c> prints (label → number).
    /// </summary>
    public IReadOnlyDictionary<string, int>? ClassNumbers { get; init; }

    /// <summary>The classifier alone (kind classifier).</summary>
    public ClassificationSection? Classifier { get; init; }

    /// <summary>The screen alone (kind screen): binary figures at its threshold.</summary>
    public ScreenSection? Screen { get; init; }

    /// <summary>Screen then classifier, end to end (with <c>--screen</c>).</summary>
    public CascadeSection? Cascade { get; init; }
}

internal sealed record ClassificationSection
{
    public required IReadOnlyList<string> Classes { get; init; }

    public required double Accuracy { get; init; }

    public required long Correct { get; init; }

    public required long Total { get; init; }

    public required double MacroPrecision { get; init; }

    public required double MacroRecall { get; init; }

    public required double MacroF1 { get; init; }

    public required IReadOnlyList<ClassMetrics> PerClass { get; init; }

    /// <summary>Rows: true class; columns: predicted class.</summary>
    public required long[][] Confusion { get; init; }

    public required LatencySummary LatencyMs { get; init; }

    public required string ConfusionPng { get; init; }

    /// <summary>Purity against accept rate over the confidence floor (the classifier alone).</summary>
    public PurityCurve? Purity { get; init; }

    /// <summary>The manifest's softmax temperature (1 when it has none) and test-time augmentation.</summary>
    public float? Temperature { get; init; }

    public string? Tta { get; init; }

    public static ClassificationSection From(ConfusionMatrix matrix, LatencySummary latency, string png)
    {
        var m = ClassificationMetrics.From(matrix);
        return new ClassificationSection
        {
            Classes = matrix.Classes,
            Accuracy = m.Accuracy,
            Correct = m.Correct,
            Total = m.Total,
            MacroPrecision = m.MacroPrecision,
            MacroRecall = m.MacroRecall,
            MacroF1 = m.MacroF1,
            PerClass = m.PerClass,
            Confusion = matrix.ToRows(),
            LatencyMs = latency,
            ConfusionPng = png,
        };
    }
}

internal sealed record ScreenSection
{
    public required string ScreenModel { get; init; }

    public required ScreenMetrics Metrics { get; init; }

    /// <summary>Screen alone: decode + preprocess + screen inference. Absent inside a cascade (see its result).</summary>
    public LatencySummary? LatencyMs { get; init; }

    /// <summary>Screen alone: rows true clean/defect, columns passed/sent on.</summary>
    public long[][]? Confusion { get; init; }

    public string? ConfusionPng { get; init; }
}

internal sealed record CascadeSection
{
    public required ScreenSection Screen { get; init; }

    /// <summary>Images the classifier did not have to run on.</summary>
    public required long ClassifierSpared { get; init; }

    public required double ClassifierSparedFraction { get; init; }

    public required ClassificationSection Result { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(EvaluationReport))]
internal sealed partial class EvaluationJsonContext : JsonSerializerContext;
