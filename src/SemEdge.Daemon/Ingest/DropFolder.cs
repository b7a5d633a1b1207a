namespace SemEdge.Ingest;

/// <summary>
/// The drop folder and its siblings: lists what the SEM wrote, refuses what must not be opened, and claims a
/// file by renaming it into <c>processing/</c> (atomic on one file system, so a file is claimed once).
/// </summary>
public sealed class DropFolder
{
    private readonly TimeProvider _time;

    public DropFolder(IngestOptions options, TimeProvider time)
    {
        _time = time;
        Drop = FullFolder(options.DropFolder);
        Processing = FullFolder(options.ProcessingFolder);
        MaxFileBytes = options.MaxFileBytes;
    }

    public string Drop { get; }

    public string Processing { get; }

    public long MaxFileBytes { get; }

    /// <summary>
    /// Creates the folders and proves a claim can work: a rename from the drop folder into <c>processing/</c>
    /// fails across file systems, and that is better found at start-up than on the first image.
    /// </summary>
    public void Prepare()
    {
        Directory.CreateDirectory(Drop);
        Directory.CreateDirectory(Processing);
        var probe = $".semedge-claim-probe-{Environment.ProcessId}";
        var from = Path.Combine(Drop, probe);
        var to = Path.Combine(Processing, probe);
        File.WriteAllBytes(from, []);
        try
        {
            File.Move(from, to, overwrite: true);
        }
        catch (IOException ex)
        {
            File.Delete(from);
            throw new InvalidOperationException(
                $"Cannot rename files from {Drop} into {Processing} ({ex.Message}). Both folders must be on the same file system.", ex);
        }

        File.Delete(to);
    }

    /// <summary>Temporary and hidden names are the writer's business until it renames them.</summary>
    public static bool IsTemporaryName(string name) => IngestRules.IsTemporaryName(name);

    /// <summary>One listing: regular files to track for readiness, and entries to refuse now.</summary>
    public DropListing List()
    {
        var candidates = new List<FileSnapshot>();
        var refused = new List<DropEntry>();
        foreach (var info in new DirectoryInfo(Drop).EnumerateFileSystemInfos())
        {
            if (IsTemporaryName(info.Name))
            {
                continue;
            }

            FileStatus status;
            try
            {
                status = FileStatus.Of(info.FullName);
            }
            catch (IOException)
            {
                continue; // cannot be examined now; the next listing tries again
            }

            switch (status.Kind)
            {
                case EntryKind.Missing:
                case EntryKind.Directory:
                    // Gone between listing and stat, or a sub-folder (not ours to inspect; may hold processing/).
                    break;
                case EntryKind.Symlink:
                    refused.Add(RefuseLink(info));
                    break;
                case EntryKind.Regular:
                    candidates.Add(new FileSnapshot(info.Name, status.Length, new DateTime(status.ModifiedNs / 100 + DateTime.UnixEpoch.Ticks, DateTimeKind.Utc))
                    {
                        // rename(2) sets ctime but not mtime: a file whose last change came after its last write was
                        // moved or renamed in finished. A writer's own writes set both to the same instant.
                        MovedIn = status.Length > 0 && status.ChangedNs > status.ModifiedNs,
                    });
                    break;
                default:
                    // A FIFO, socket or device node: never opened (opening a FIFO blocks), refused at once.
                    var (reason, detail) = IngestRules.Refusal(status)!.Value;
                    refused.Add(new DropEntry(info.Name, reason, detail));
                    break;
            }
        }

        return new DropListing(candidates, refused);
    }

    /// <summary>
    /// Renames <paramref name="name"/> into <c>processing/</c>; afterwards its mtime is the claim time (which is how
    /// recovery tells this claim from an older image of the same name). A file the daemon does not own (the SEM's
    /// account writes into a setgid drop folder) cannot be re-stamped or made read-only by the daemon, so it is
    /// taken over the way a spool does: copied into a daemon-owned file, fsync'd, renamed over the claimed name (the claim
    /// time is the copy's mtime; nothing of the writer's file is changed).
    /// An outside hard link to the original then no longer reaches the evidence. Null when the file is gone.
    /// </summary>
    public ClaimedImage? Claim(string name)
    {
        var source = Path.Combine(Drop, name);
        var now = _time.GetUtcNow();
        if (!IsInside(source))
        {
            return new ClaimedImage(name, source, now, QuarantineReason.EscapedPath, "name leaves the drop folder");
        }

        string claimed;
        try
        {
            if (CollisionFreeMove.IsLink(source))
            {
                return new ClaimedImage(name, source, now, RefuseLink(new FileInfo(source)).RefusedReason, "replaced by a symlink before the claim");
            }

            claimed = CollisionFreeMove.Move(source, Processing, name);
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        // The entry may have been swapped for a link or a FIFO between the check and the rename; never follow or open it.
        var status = FileStatus.Of(claimed);
        if (status.Kind == EntryKind.Symlink)
        {
            return new ClaimedImage(name, claimed, now, QuarantineReason.Symlink, $"symlink to {new FileInfo(claimed).LinkTarget}");
        }

        if (IngestRules.Refusal(status) is { } refusal)
        {
            return new ClaimedImage(name, claimed, now, refusal.Reason, refusal.Detail);
        }

        if (status.Length > MaxFileBytes)
        {
            return new ClaimedImage(name, claimed, now, QuarantineReason.TooLarge, $"{status.Length} bytes is more than Ingest:MaxFileBytes ({MaxFileBytes})");
        }

        if (status.OwnerId == FileStatus.ProcessOwnerId)
        {
            File.SetLastWriteTimeUtc(claimed, now.UtcDateTime);
        }
        else
        {
            TakeOwnership(claimed, now);
        }

        return new ClaimedImage(name, claimed, now);
    }

    /// <summary>Copies the claimed file into one of our own (mtime: now), fsyncs it, renames it over the original.</summary>
    private void TakeOwnership(string claimed, DateTimeOffset claimedAt)
    {
        var copy = Path.Combine(Processing, $".take-{Guid.NewGuid():N}.tmp");
        try
        {
            using (var from = new FileStream(claimed, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
            using (var to = new FileStream(copy, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
            {
                from.CopyTo(to, 1 << 20);
                to.Flush(flushToDisk: true);
            }

            File.SetLastWriteTimeUtc(copy, claimedAt.UtcDateTime);

            File.Move(copy, claimed, overwrite: true);
            DirectorySync.Flush(Processing);
        }
        catch
        {
            File.Delete(copy);
            throw;
        }
    }

    /// <summary>What <c>processing/</c> held at start-up (left by a crash or a kill), oldest claim first.</summary>
    public IReadOnlyList<ClaimedImage> Leftovers()
    {
        var leftovers = new List<ClaimedImage>();
        foreach (var file in new DirectoryInfo(Processing).EnumerateFiles())
        {
            if (file.Name.StartsWith(".take-", StringComparison.Ordinal))
            {
                // A take-over copy cut short: the original is still in processing/ under its own name.
                file.Delete();
                continue;
            }

            if (IsTemporaryName(file.Name))
            {
                continue;
            }

            var claimedAt = new DateTimeOffset(file.LastWriteTimeUtc);
            var status = FileStatus.Of(file.FullName);
            leftovers.Add(status.Kind switch
            {
                EntryKind.Missing => null!,
                EntryKind.Symlink => new ClaimedImage(file.Name, file.FullName, claimedAt, QuarantineReason.Symlink, $"symlink to {file.LinkTarget}"),
                _ when IngestRules.Refusal(status) is { } refusal => new ClaimedImage(file.Name, file.FullName, claimedAt, refusal.Reason, refusal.Detail),
                _ => new ClaimedImage(file.Name, file.FullName, claimedAt),
            });
        }

        return [.. leftovers.Where(l => l is not null).OrderBy(l => l.ClaimedAt).ThenBy(l => l.Name, StringComparer.Ordinal)];
    }

    private DropEntry RefuseLink(FileSystemInfo link)
    {
        string? target;
        try
        {
            target = link.ResolveLinkTarget(returnFinalTarget: true)?.FullName;
        }
        catch (IOException)
        {
            target = null; // a loop or an unreadable link: refuse it all the same
        }

        return target is not null && IsInside(target)
            ? new DropEntry(link.Name, QuarantineReason.Symlink, $"symlink to {link.LinkTarget}; links are not followed")
            : new DropEntry(link.Name, QuarantineReason.EscapedPath, $"symlink to {link.LinkTarget}, outside the drop folder");
    }

    private bool IsInside(string path)
    {
        var full = Path.GetFullPath(path);
        return string.Equals(Path.GetDirectoryName(full), Drop, StringComparison.Ordinal);
    }

    private static string FullFolder(string folder) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
}

public sealed record DropListing(IReadOnlyList<FileSnapshot> Candidates, IReadOnlyList<DropEntry> Refused);

/// <summary>An image renamed into <c>processing/</c>; <see cref="RefusedReason"/> set when it must go to quarantine.</summary>
public sealed record ClaimedImage(string Name, string Path, DateTimeOffset ClaimedAt, string? RefusedReason = null, string? Detail = null);
