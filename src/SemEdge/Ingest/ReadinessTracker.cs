namespace SemEdge.Ingest;

/// <summary>
/// Decides when a file in the drop folder is fully written: at once when it was renamed in (writers that
/// rename a finished file), otherwise when its size and mtime held still for <c>StableFor</c>. Fed by listings
/// of the folder; it keeps no handles open and never reads the files.
/// </summary>
public sealed class ReadinessTracker(TimeSpan stableFor, TimeProvider time)
{
    private readonly Dictionary<string, Observation> _seen = new(StringComparer.Ordinal);
    private readonly HashSet<string> _renamedIn = new(StringComparer.Ordinal);
    private long _arrivals;

    /// <summary>Files seen but not yet ready.</summary>
    public int Pending => _seen.Count;

    public void MarkRenamedIn(string name) => _renamedIn.Add(name);

    /// <summary>
    /// Takes a full listing of the candidate files and returns those now ready, in arrival order. A returned file
    /// is forgotten: if it is still there at the next listing (the claim failed), it is tracked again from scratch.
    /// </summary>
    public IReadOnlyList<string> Observe(IEnumerable<FileSnapshot> listing)
    {
        // Stability is a duration: monotonic, so a wall-clock step neither claims a half-written file nor stalls one.
        var now = time.GetTimestamp();
        var present = new HashSet<string>(StringComparer.Ordinal);
        var ready = new List<(long Arrival, string Name)>();
        foreach (var file in listing)
        {
            present.Add(file.Name);
            if (!_seen.TryGetValue(file.Name, out var seen))
            {
                seen = new Observation(file.Length, file.LastWriteUtc, now, _arrivals++);
            }
            else if (seen.Length != file.Length || seen.LastWriteUtc != file.LastWriteUtc)
            {
                seen = seen with { Length = file.Length, LastWriteUtc = file.LastWriteUtc, Since = now };
            }

            _seen[file.Name] = seen;
            if (_renamedIn.Contains(file.Name) || time.GetElapsedTime(seen.Since, now) >= stableFor)
            {
                ready.Add((seen.Arrival, file.Name));
            }
        }

        foreach (var gone in _seen.Keys.Where(name => !present.Contains(name)).ToList())
        {
            _seen.Remove(gone);
        }

        _renamedIn.IntersectWith(present);
        foreach (var (_, name) in ready)
        {
            _seen.Remove(name);
            _renamedIn.Remove(name);
        }

        return ready.OrderBy(r => r.Arrival).Select(r => r.Name).ToList();
    }

    private sealed record Observation(long Length, DateTime LastWriteUtc, long Since, long Arrival);
}

/// <summary>One regular file of a drop-folder listing.</summary>
public readonly record struct FileSnapshot(string Name, long Length, DateTime LastWriteUtc);
