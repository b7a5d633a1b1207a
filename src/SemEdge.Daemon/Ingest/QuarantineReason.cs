namespace SemEdge.Ingest;

/// <summary>
/// Why an image was refused, as written to <c>NAME.error.json</c>. The decoder's reasons (empty, truncated,
/// unsupported, too-large, corrupt) and the drop folder's own (symlink, escaped-path, not-a-regular-file: a FIFO, socket or device node).
/// </summary>
public static class QuarantineReason
{
    public const string Empty = "empty";
    public const string Truncated = "truncated";
    public const string Unsupported = "unsupported-format";
    public const string TooLarge = "too-large";
    public const string Corrupt = "corrupt";
    public const string Symlink = "symlink";
    public const string EscapedPath = "escaped-path";
    public const string NotARegularFile = "not-a-regular-file";
    public const string InspectionFailed = "inspection-failed";
}
