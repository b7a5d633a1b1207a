namespace SemEdge.Publishing;

/// <summary>
/// Configuration section "Outbox": where the durable verdict outbox lives and how large it may grow.
/// When it is full the outbox refuses new verdicts (<see cref="OutboxFullException"/>), so the pipeline stops
/// claiming images until the broker has taken some: back-pressure, nothing lost.
/// </summary>
public sealed class OutboxOptions
{
    public const string SectionName = "Outbox";

    /// <summary>Directory that holds <c>outbox.log</c> and its lock file; created if missing.</summary>
    public string Path { get; set; } = "/var/lib/semedge/outbox";

    /// <summary>Largest the log file may grow (after compaction) before new verdicts are refused.</summary>
    public long MaxBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Most verdicts that may wait unsent before new verdicts are refused.</summary>
    public int MaxEntries { get; set; } = 100_000;

    /// <summary>Compact the log once this many sent entries have accumulated in it.</summary>
    public int CompactAfterSent { get; set; } = 1_000;
}
