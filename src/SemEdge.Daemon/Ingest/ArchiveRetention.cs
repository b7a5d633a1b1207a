using Microsoft.Extensions.Logging;

namespace SemEdge.Ingest;

/// <summary>
/// Trims the archive by age, then by count, then (oldest first) until the disk has the configured free space.
/// A full disk would stop the outbox from making verdicts durable, which stops the line: images are the
/// cheaper thing to lose.
/// </summary>
public sealed class ArchiveRetention(IngestOptions options, ImageArchive archive, TimeProvider time, ILogger<ArchiveRetention> logger)
{
    /// <summary>Free bytes on the archive's file system; replaceable so tests need not fill a disk.</summary>
    public Func<long> FreeBytes { get; init; } = () => new DriveInfo(archive.Folder).AvailableFreeSpace;

    /// <returns>The number of images removed.</returns>
    public int Prune()
    {
        if (!Directory.Exists(archive.Folder))
        {
            return 0;
        }

        var files = new DirectoryInfo(archive.Folder)
            .EnumerateFiles("*", SearchOption.AllDirectories)
            .OrderBy(f => f.LastWriteTimeUtc)
            .ThenBy(f => f.FullName, StringComparer.Ordinal)
            .ToList();
        var oldestAllowed = time.GetUtcNow().UtcDateTime - options.ArchiveMaxAge;
        var removed = 0;
        var byAge = 0;
        var byCount = 0;
        var bySpace = 0;
        var index = 0;
        for (; index < files.Count; index++)
        {
            var remaining = files.Count - index;
            if (files[index].LastWriteTimeUtc < oldestAllowed)
            {
                byAge++;
            }
            else if (remaining > options.ArchiveMaxFiles)
            {
                byCount++;
            }
            else if (FreeBytes() < options.ArchiveMinFreeBytes)
            {
                bySpace++;
            }
            else
            {
                break;
            }

            try
            {
                files[index].Delete();
                removed++;
            }
            catch (IOException ex)
            {
                logger.LogWarning("Archive retention could not delete {Path}: {Reason}", files[index].FullName, ex.Message);
            }
        }

        RemoveEmptyFolders(archive.Folder);
        if (removed > 0)
        {
            logger.LogInformation(
                "Archive retention removed {Removed} images ({ByAge} by age, {ByCount} by count, {BySpace} for free space)",
                removed, byAge, byCount, bySpace);
        }

        return removed;
    }

    private static void RemoveEmptyFolders(string root)
    {
        foreach (var folder in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length).ToList())
        {
            if (!Directory.EnumerateFileSystemEntries(folder).Any())
            {
                try
                {
                    Directory.Delete(folder);
                }
                catch (IOException)
                {
                    // Something was archived into it meanwhile.
                }
            }
        }
    }
}
