namespace SemEdge.Ingest;

/// <summary>
/// The rules that decide which entries are images to open, shared by the daemon's drop folder and
/// <c>semedge classify</c>, so a file the daemon would refuse is refused by the command too. Nothing here opens
/// a file: a FIFO would block the open, and a symlink could make the error messages show another file's bytes.
/// </summary>
public static class IngestRules
{
    /// <summary>Temporary and hidden names are the writer's business until it renames them.</summary>
    public static bool IsTemporaryName(string name) =>
        name.StartsWith('.') ||
        name.EndsWith(".tmp", StringComparison.OrdinalIgnoreCase) ||
        name.EndsWith(".part", StringComparison.OrdinalIgnoreCase) ||
        name.EndsWith('~');

    /// <summary>Why an entry must not be opened as an image (a quarantine reason and a detail), or null if it may.</summary>
    public static (string Reason, string Detail)? Refusal(FileStatus status) => status.Kind switch
    {
        EntryKind.Regular when status.Length == 0 => (QuarantineReason.Empty, "zero bytes"),
        EntryKind.Regular => null,
        EntryKind.Symlink => (QuarantineReason.Symlink, "a symlink; links are not followed"),
        EntryKind.Missing => null,
        var kind => (QuarantineReason.NotARegularFile, $"a {Describe(kind)}, not a regular file; it is never opened"),
    };

    private static string Describe(EntryKind kind) => kind switch
    {
        EntryKind.Fifo => "FIFO (named pipe)",
        EntryKind.Socket => "socket",
        EntryKind.Device => "device node",
        EntryKind.Directory => "folder",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
