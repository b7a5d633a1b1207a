namespace SemEdge.Ingest;

/// <summary>
/// Something the drop folder offers: a file ready to claim, or an entry refused outright (a symlink, an entry
/// resolving outside the folder, a device node) that goes to quarantine untouched.
/// </summary>
public sealed record DropEntry(string Name, string? RefusedReason = null, string? Detail = null)
{
    public bool Refused => RefusedReason is not null;
}
