namespace SemEdge.Decision;

/// <summary>What the line does with the part.</summary>
public enum VerdictAction
{
    Pass,
    Reject,
    Review,
}

/// <summary>
/// One image's outcome, as published to the PLC and kept in the outbox. Flat on purpose: the PLC parses it.
/// </summary>
public sealed record Verdict
{
    /// <summary>Monotonic sequence number, assigned when the verdict is made durable; survives restarts.</summary>
    public long Seq { get; init; }

    /// <summary>Image file name as it was dropped (no folders).</summary>
    public required string Image { get; init; }

    /// <summary>When the verdict was decided.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>The class table's number for <see cref="Label"/> (<see cref="ClassTable"/>), never the model's own index.</summary>
    public required int ClassId { get; init; }

    public required string Label { get; init; }

    public required float Confidence { get; init; }

    public required VerdictAction Action { get; init; }

    public required string ModelId { get; init; }

    /// <summary>Short model hash (first 12 hex digits of the sha256) of the model that decided.</summary>
    public required string ModelSha { get; init; }

    /// <summary>Execution provider that actually ran, e.g. <c>cpu</c>, <c>vsinpu</c>.</summary>
    public required string Provider { get; init; }

    /// <summary>Decode + preprocess + inference time for this image.</summary>
    public required double LatencyMs { get; init; }

    /// <summary>True when sent from the outbox after an outage or restart rather than live.</summary>
    public bool Replay { get; init; }
}
