using System.Text.Json.Serialization;

namespace SemEdge.Inference.Benchmarking;

/// <summary>One image set in memory for the benchmark: name, file bytes, and the size label it is grouped by.</summary>
public sealed record BenchImage(string Name, byte[] Bytes, string Group);

/// <summary>
/// One benchmark configuration: which models, how many threads per model, and how many streams run side by side
/// (each its own inspector on its own thread, as the daemon's decode workers are: the "bench on all cores" figure).
/// </summary>
public sealed record BenchConfig(string Name, string ClassifierManifest, string? ScreenManifest, int Threads, string Format, int Streams = 1);

/// <summary>Figures for one configuration on one image group.</summary>
public sealed record BenchResult
{
    public required string Config { get; init; }

    public required string Group { get; init; }

    public required string Format { get; init; }

    public required bool Cascade { get; init; }

    public required int Threads { get; init; }

    /// <summary>Inspectors run side by side; images/s is then theirs together, over the same wall time.</summary>
    public int Streams { get; init; } = 1;

    public required string Provider { get; init; }

    public required int Images { get; init; }

    public required LatencyStats Decode { get; init; }

    public required LatencyStats Preprocess { get; init; }

    public required LatencyStats Inference { get; init; }

    /// <summary>Decode + preprocess + inference per image.</summary>
    public required LatencyStats Total { get; init; }

    /// <summary>The classifier alone, run again and again on one preloaded tensor.</summary>
    public required LatencyStats RawInference { get; init; }

    public required double ImagesPerSecond { get; init; }

    /// <summary>Pipeline p50 / raw-inference p50.</summary>
    public required double PipelineOverRaw { get; init; }

    /// <summary>Pipeline p50 / (decode p50 + raw-inference p50): the overhead of everything else (target ≤ 1.2).</summary>
    public required double PipelineOverDecodePlusRaw { get; init; }

    /// <summary>Managed bytes allocated per image by the whole Inspect call (decode, preprocess, cascade, decision, result).</summary>
    public required double AllocatedBytesPerImage { get; init; }

    /// <summary>Managed bytes allocated per ModelSession.Run in steady state (the inference path).</summary>
    public required double InferenceAllocatedBytesPerRun { get; init; }

    public required int Gen0Collections { get; init; }

    public required int Gen1Collections { get; init; }

    public required int Gen2Collections { get; init; }

    /// <summary>Share of images the screen called clean (classifier skipped).</summary>
    public required double ShortCircuitedShare { get; init; }
}

public sealed record BenchReport
{
    public required string Machine { get; init; }

    public required int ProcessorCount { get; init; }

    public required string Runtime { get; init; }

    public required int Iterations { get; init; }

    public required IReadOnlyList<BenchResult> Results { get; init; }

    /// <summary>The stage with the largest share of the pipeline p50 in the first configuration, per group.</summary>
    public required IReadOnlyDictionary<string, string> SlowestStage { get; init; }

    /// <summary>Cascade against single stage on the clean-heavy stream; null without a screen or without the stream.</summary>
    public CascadeComparison? CleanHeavy { get; init; }

    /// <summary>The daemon's decoder beside Skia alone, per image group, measured in turn in this run.</summary>
    public IReadOnlyList<DecodeComparison> DecodePaths { get; init; } = [];
}

/// <summary>
/// Decode only (file bytes in memory to pixels), the daemon's decoder against Skia's codecs alone on the same
/// images: they differ where the daemon reads the rows itself (8-bit opaque grey PNG, the SEM tools' kind).
/// </summary>
public sealed record DecodeComparison
{
    public required string Group { get; init; }

    public required int Images { get; init; }

    public required LatencyStats DaemonPath { get; init; }

    public required LatencyStats SkiaOnly { get; init; }

    /// <summary>Daemon path p50 / Skia p50: below 1 the daemon's path is faster.</summary>
    public required double DaemonOverSkia { get; init; }
}

/// <summary>
/// The cascade row beside the single-stage row (same format, one thread) on one image group. Means, not medians:
/// on a mostly clean stream the cascade's median is the screen alone, while what the line pays is the mean.
/// </summary>
public sealed record CascadeComparison
{
    public required string Group { get; init; }

    public required int Images { get; init; }

    public required string SingleStage { get; init; }

    public required string Cascade { get; init; }

    public required double SingleStageMeanMs { get; init; }

    public required double CascadeMeanMs { get; init; }

    public required double SingleStageImagesPerSecond { get; init; }

    public required double CascadeImagesPerSecond { get; init; }

    /// <summary>Share of the stream the screen called clean, so the classifier never ran.</summary>
    public required double ScreenedShare { get; init; }

    /// <summary>Cascade mean latency over single-stage mean latency: below 1 the cascade is cheaper.</summary>
    public required double CascadeOverSingleStage { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(BenchReport))]
public sealed partial class BenchJsonContext : JsonSerializerContext;
