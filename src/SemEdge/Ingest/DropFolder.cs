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
    public static bool IsTemporaryName(string name) =>
        name.StartsWith('.') ||
        name.EndsWith(".tmp", StringComparison.OrdinalIgnoreCase) ||
        name.EndsWith(".part", StringComparison.OrdinalIgnoreCase) ||
        name.EndsWith('~');

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

            try
            {
                if (info.LinkTarget is not null)
                {
                    refused.Add(RefuseLink(info));
                }
                else if (info is FileInfo file)
                {
                    candidates.Add(new FileSnapshot(file.Name, file.Length, file.LastWriteTimeUtc));
                }

                // Sub-folders are not ours to inspect (and may hold processing/ or archive/).
            }
            catch (FileNotFoundException)
            {
                // Gone between listing and stat: claimed elsewhere or removed by the writer.
            }
        }

        return new DropListing(candidates, refused);
    }

    /// <summary>
    /// Renames <paramref name="name"/> into <c>processing/</c> and stamps its mtime with the claim time (which is how
    /// recovery tells this claim from an older image of the same name). Null when the file is gone.
    /// </summary>
    public ClaimedImage? Claim(string name)
    {
        var source = Path.Combine(Drop, name);
        if (!IsInside(source))
        {
            return new ClaimedImage(name, source, _time.GetUtcNow(), QuarantineReason.EscapedPath, "name leaves the drop folder");
        }

        var now = _time.GetUtcNow();
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

        // The entry may have been swapped for a link between the check and the rename; never follow it.
        var info = new FileInfo(claimed);
        if (info.LinkTarget is not null)
        {
            return new ClaimedImage(name, claimed, now, QuarantineReason.Symlink, $"symlink to {info.LinkTarget}");
        }

        File.SetLastWriteTimeUtc(claimed, now.UtcDateTime);
        if (info.Length == 0)
        {
            // Also what a FIFO or device node reports: refusing it here means nothing ever blocks opening one.
            return new ClaimedImage(name, claimed, now, QuarantineReason.Empty, "zero bytes (or not a regular file)");
        }

        if (info.Length > MaxFileBytes)
        {
            return new ClaimedImage(name, claimed, now, QuarantineReason.TooLarge, $"{info.Length} bytes is more than Ingest:MaxFileBytes ({MaxFileBytes})");
        }

        return new ClaimedImage(name, claimed, now);
    }

    /// <summary>What <c>processing/</c> held at start-up (left by a crash or a kill), oldest claim first.</summary>
    public IReadOnlyList<ClaimedImage> Leftovers() =>
        new DirectoryInfo(Processing).EnumerateFiles()
            .Where(f => !IsTemporaryName(f.Name))
            .OrderBy(f => f.LastWriteTimeUtc)
            .ThenBy(f => f.Name, StringComparer.Ordinal)
            .Select(f => f.LinkTarget is not null
                ? new ClaimedImage(f.Name, f.FullName, new DateTimeOffset(f.LastWriteTimeUtc), QuarantineReason.Symlink, $"symlink to {f.LinkTarget}")
                : new ClaimedImage(f.Name, f.FullName, new DateTimeOffset(f.LastWriteTimeUtc)))
            .ToList();

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
