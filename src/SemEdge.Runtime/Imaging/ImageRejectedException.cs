namespace SemEdge.Imaging;

/// <summary>Why an input file cannot be inspected. The daemon quarantines the file and reports this code.</summary>
public enum ImageRejectReason
{
    /// <summary>The file has no bytes (often a copy that has not started yet).</summary>
    Empty,

    /// <summary>The file ends before the image data does (often a copy still in progress).</summary>
    Truncated,

    /// <summary>Not an image format SemEdge reads, or a variant of one it does not support.</summary>
    UnsupportedFormat,

    /// <summary>The header declares more pixels than the configured limit (decompression-bomb guard).</summary>
    TooLarge,

    /// <summary>The header or data is damaged.</summary>
    Corrupt,
}

/// <summary>An input image that cannot be decoded; <see cref="Reason"/> says why in a machine-readable way.</summary>
public sealed class ImageRejectedException : Exception
{
    public ImageRejectedException(ImageRejectReason reason, string message, Exception? inner = null)
        : base(message, inner)
    {
        Reason = reason;
    }

    public ImageRejectReason Reason { get; }

    /// <summary>Short stable code for logs, file names and MQTT, e.g. <c>too-large</c>.</summary>
    public string Code => Reason switch
    {
        ImageRejectReason.Empty => "empty",
        ImageRejectReason.Truncated => "truncated",
        ImageRejectReason.UnsupportedFormat => "unsupported-format",
        ImageRejectReason.TooLarge => "too-large",
        _ => "corrupt",
    };
}
