namespace SemEdge.Telemetry;

/// <summary>
/// Running totals of the daemon, shared by the pipeline (which counts), the MQTT heartbeat and the systemd
/// STATUS line (which read). One instance per host, registered as a singleton.
/// </summary>
public sealed class PipelineCounters
{
    private long _claimed;
    private long _passed;
    private long _rejected;
    private long _reviewed;
    private long _quarantined;
    private long _published;

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
}
