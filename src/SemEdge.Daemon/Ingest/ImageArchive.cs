using System.Globalization;
using SemEdge.Decision;

namespace SemEdge.Ingest;

/// <summary>
/// Keeps inspected images as <c>archive/{yyyy-MM-dd}/{action}/NAME</c> (UTC date of the verdict), or deletes them
/// when so configured. Only called once the verdict is durable, so an image is never gone without its verdict.
/// Archived files are owned by the daemon and 0440.
/// </summary>
public sealed class ImageArchive(IngestOptions options)
{
    public string Folder { get; } = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.ArchiveFolder));

    public void Prepare() => Directory.CreateDirectory(Folder);

    /// <returns>The archived path, or null when the image was deleted.</returns>
    public string? Keep(string path, string name, VerdictAction action, DateTimeOffset decidedAt)
    {
        if (options.DeleteAfterVerdict)
        {
            File.Delete(path);
            return null;
        }

        var folder = Path.Combine(
            Folder,
            decidedAt.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            action.ToString().ToLowerInvariant());
        Directory.CreateDirectory(folder);
        var kept = CollisionFreeMove.Move(path, folder, name);

        // Evidence: read-only for its owner (the daemon, which took the file over at the claim) and the group.
        if (!OperatingSystem.IsWindows() && FileStatus.Of(kept).OwnerId == FileStatus.ProcessOwnerId)
        {
            File.SetUnixFileMode(kept, UnixFileMode.UserRead | UnixFileMode.GroupRead);
        }

        return kept;
    }
}
