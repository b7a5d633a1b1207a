namespace SemEdge.Ingest;

/// <summary>
/// Something the drop folder offers: a file ready to claim, or an entry refused outright (a symlink, an entry
/// resolving outside the folder, a device node) that goes to quarantine untouched.
/// </summary>
public sealed record DropEntry(string Name, string? RefusedReason = null, string? Detail = null)
{
    /// <summary>When the watcher first saw the file, and when it became ready (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public (long SeenAt, long ReadyAt) Stages { get; init; }

    public bool Refused => RefusedReason is not null;
}
