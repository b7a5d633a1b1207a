namespace SemEdge.Ingest;

/// <summary>
/// Decides when a file in the drop folder is fully written, and in which order ready files are offered. Fed by
/// the watcher's events and by listings of the folder; it keeps no handles open and never reads the files.
/// <para>Ready at once: a file renamed inside the drop folder (the watcher's Renamed event), and a file moved in
/// from another folder (its ctime is later than its mtime: rename(2) sets ctime, a write sets both). Otherwise
/// ready once its size and mtime held still for <c>StableFor</c> on the monotonic clock.</para>
/// <para>Order: files the watcher reported come out in event order; files found only by a listing (the backlog at
/// start-up, or events inotify dropped) come first, in the order listings first showed them, then oldest mtime first, then by name.</para>
/// </summary>
public sealed class ReadinessTracker(TimeSpan stableFor, TimeProvider time)
{
    private readonly Dictionary<string, Observation> _seen = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Arrival> _events = new(StringComparer.Ordinal);
    private long _eventCount;
    private long _listings;

    /// <summary>Files seen but not yet ready.</summary>
    public int Pending => _seen.Count;

    /// <summary>A file renamed inside the drop folder: written under another name, so finished.</summary>
    public void MarkRenamedIn(string name) => MarkEvent(name, renamedIn: true);

    /// <summary>The watcher reported <paramref name="name"/> (created, changed or renamed in); the first report sets its place.</summary>
    public void MarkEvent(string name, bool renamedIn = false)
    {
        if (_events.TryGetValue(name, out var known))
        {
            if (renamedIn && !known.RenamedIn)
            {
                _events[name] = known with { RenamedIn = true };
            }

            return;
        }

        _events[name] = new Arrival(_eventCount++, time.GetTimestamp(), renamedIn);
    }

    /// <summary>
    /// Takes a full listing of the candidate files and returns those now ready, in arrival order. A returned file
    /// is forgotten: if it is still there at the next listing (the claim failed), it is tracked again from scratch.
    /// </summary>
    public IReadOnlyList<ReadyFile> Observe(IEnumerable<FileSnapshot> listing)
    {
        // Stability is a duration: monotonic, so a wall-clock step neither claims a half-written file nor stalls one.
        var now = time.GetTimestamp();
        var listingNumber = _listings++;
        var firstListing = listingNumber == 0;
        var present = new HashSet<string>(StringComparer.Ordinal);
        var ready = new List<(Observation Seen, Arrival? Event, FileSnapshot File)>();
        foreach (var file in listing)
        {
            present.Add(file.Name);
            _events.TryGetValue(file.Name, out var arrival);
            var listedBefore = _seen.TryGetValue(file.Name, out var seen);
            if (!listedBefore)
            {
                seen = new Observation(file.Length, file.LastWriteUtc, now, arrival?.SeenAt ?? now, listingNumber);
            }
            else if (seen!.Length != file.Length || seen.LastWriteUtc != file.LastWriteUtc)
            {
                seen = seen with { Length = file.Length, LastWriteUtc = file.LastWriteUtc, Since = now };
            }

            _seen[file.Name] = seen!;

            // A moved-in file found by a listing before its event arrived waits for the event (or the next
            // listing), so it cannot overtake files whose events came first.
            var movedIn = file.MovedIn && (arrival is not null || listedBefore || firstListing);
            if (arrival is { RenamedIn: true } || movedIn || time.GetElapsedTime(seen.Since, now) >= stableFor)
            {
                ready.Add((seen, arrival, file));
            }
        }

        foreach (var gone in _seen.Keys.Where(name => !present.Contains(name)).ToList())
        {
            _seen.Remove(gone);
        }

        foreach (var gone in _events.Keys.Where(name => !present.Contains(name) && !_seen.ContainsKey(name)).ToList())
        {
            // An event for a file not (yet) listed stays only while the file may still appear: drop the rest.
            if (time.GetElapsedTime(_events[gone].SeenAt, now) > stableFor + TimeSpan.FromSeconds(10))
            {
                _events.Remove(gone);
            }
        }

        foreach (var (_, _, file) in ready)
        {
            _seen.Remove(file.Name);
            _events.Remove(file.Name);
        }

        return ready
            .OrderBy(r => r.Event is null ? 0 : 1)
            .ThenBy(r => r.Event?.Order ?? r.Seen.FirstListing)
            .ThenBy(r => r.File.LastWriteUtc)
            .ThenBy(r => r.File.Name, StringComparer.Ordinal)
            .Select(r => new ReadyFile(r.File.Name, r.Seen.SeenAt, now))
            .ToList();
    }

    private sealed record Observation(long Length, DateTime LastWriteUtc, long Since, long SeenAt, long FirstListing);

    private sealed record Arrival(long Order, long SeenAt, bool RenamedIn);
}

/// <summary>One regular file of a drop-folder listing; <see cref="MovedIn"/> when it was renamed in finished.</summary>
public readonly record struct FileSnapshot(string Name, long Length, DateTime LastWriteUtc)
{
    public bool MovedIn { get; init; }
}

/// <summary>A file ready to claim, with when it was first seen and when it became ready (monotonic timestamps).</summary>
public readonly record struct ReadyFile(string Name, long SeenAt, long ReadyAt);
