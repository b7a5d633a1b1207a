using System.Diagnostics.Metrics;

namespace SemEdge.Telemetry;

/// <summary>
/// Running totals of the daemon, shared by the pipeline (which counts), the MQTT heartbeat, the page and the
/// systemd STATUS line (which read). The same totals are the instruments of the <see cref="MeterName"/> meter,
/// so a technician reads them live on the board with
/// <c>dotnet-counters monitor --name semedge --counters SemEdge</c>. One instance per host, a singleton.
/// </summary>
public sealed class PipelineCounters : IDisposable
{
    /// <summary>The meter's name, what <c>dotnet-counters --counters</c> and a <c>MeterListener</c> select.</summary>
    public const string MeterName = "SemEdge";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private long _claimed;
    private long _passed;
    private long _rejected;
    private long _reviewed;
    private long _quarantined;
    private long _published;

    /// <param name="meters">The host's meter factory (the host registers one); null makes a meter of its own.</param>
    public PipelineCounters(IMeterFactory? meters = null)
    {
        _ownsMeter = meters is null;
        _meter = meters?.Create(MeterName) ?? new Meter(MeterName);
        // Observable counters read the totals below when a listener collects: counting stays one Interlocked
        // increment, whether anyone listens or not.
        _meter.CreateObservableCounter("semedge.images.claimed", () => Claimed, "{image}", "Images claimed from the drop folder.");
        _meter.CreateObservableCounter("semedge.images.quarantined", () => Quarantined, "{image}", "Images set aside as unreadable or not images.");
        _meter.CreateObservableCounter("semedge.verdicts", () => new Measurement<long>[]
        {
            new(Passed, new KeyValuePair<string, object?>("action", "pass")),
            new(Rejected, new KeyValuePair<string, object?>("action", "reject")),
            new(Reviewed, new KeyValuePair<string, object?>("action", "review")),
        }, "{verdict}", "Verdicts decided, by action.");
        _meter.CreateObservableCounter("semedge.verdicts.published", () => Published, "{verdict}", "Verdicts the MQTT broker acknowledged.");
    }

    public long Claimed => Interlocked.Read(ref _claimed);

    public long Passed => Interlocked.Read(ref _passed);

    public long Rejected => Interlocked.Read(ref _rejected);

    public long Reviewed => Interlocked.Read(ref _reviewed);

    public long Quarantined => Interlocked.Read(ref _quarantined);

    public long Published => Interlocked.Read(ref _published);

    public long Inspected => Passed + Rejected + Reviewed;

    public void CountClaimed() => Interlocked.Increment(ref _claimed);

    public void CountPassed() => Interlocked.Increment(ref _passed);

    public void CountRejected() => Interlocked.Increment(ref _rejected);

    public void CountReviewed() => Interlocked.Increment(ref _reviewed);

    public void CountQuarantined() => Interlocked.Increment(ref _quarantined);

    public void CountPublished() => Interlocked.Increment(ref _published);

    /// <summary>Disposes the meter it made itself; a factory's meters go with the factory.</summary>
    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
