namespace SemEdge.Imaging;

/// <summary>
/// Decodes PNG, JPEG, BMP and WebP (SkiaSharp) and TIFF (LibTiff.NET) into a reusable <see cref="DecodedImage"/>.
/// Every path reads the declared dimensions from the header and refuses images over <see cref="MaxPixels"/>
/// before any pixel buffer is allocated. Failures are <see cref="ImageRejectedException"/>, never a crash.
/// </summary>
public sealed class ImageDecoder
{
    /// <summary>Default limit: 64 megapixels, four times a large SEM frame (8192×2048 is 16 Mpx).</summary>
    public const long DefaultMaxPixels = 64L * 1024 * 1024;

    private readonly SkiaImageReader _skia;
    private readonly TiffImageReader _tiff;

    public ImageDecoder(long maxPixels = DefaultMaxPixels)
        : this(maxPixels, grey8FastPath: true)
    {
    }

    /// <param name="grey8FastPath">False decodes 8-bit grey PNGs with Skia too: bench's figure beside the daemon's path, and the tests' reference.</param>
    internal ImageDecoder(long maxPixels, bool grey8FastPath)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPixels, 1);
        MaxPixels = maxPixels;
        _skia = new SkiaImageReader(maxPixels, grey8FastPath);
        _tiff = new TiffImageReader(maxPixels);
    }

    public long MaxPixels { get; }

    /// <summary>Decodes <paramref name="data"/> (the whole file) into <paramref name="target"/>.</summary>
    /// <returns>The container format that was decoded.</returns>
    /// <exception cref="ImageRejectedException">Empty, truncated, unsupported, too large or corrupt input.</exception>
    public ImageFormat Decode(ReadOnlyMemory<byte> data, DecodedImage target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (data.IsEmpty)
        {
            throw new ImageRejectedException(ImageRejectReason.Empty, "the file is empty (0 bytes)");
        }

        var format = ImageFormatSniffer.Sniff(data.Span, out var isPrefix);
        switch (format)
        {
            case ImageFormat.Tiff:
                _tiff.Read(data, target);
                break;
            case ImageFormat.Png or ImageFormat.Jpeg or ImageFormat.Bmp or ImageFormat.WebP:
                _skia.Read(data, format, target);
                break;
            default:
                throw isPrefix
                    ? new ImageRejectedException(ImageRejectReason.Truncated,
                        $"the file is cut off after {data.Length} bytes, inside the format signature")
                    : new ImageRejectedException(ImageRejectReason.UnsupportedFormat,
                        $"not a PNG, JPEG, BMP, WebP or TIFF file (starts with {Describe(data.Span)})");
        }

        return format;
    }

    internal static void CheckDimensions(long width, long height, long maxPixels, string format)
    {
        if (width <= 0 || height <= 0)
        {
            throw new ImageRejectedException(ImageRejectReason.Corrupt,
                $"{format} header declares an impossible size {width}x{height}");
        }

        if (width * height > maxPixels)
        {
            throw new ImageRejectedException(ImageRejectReason.TooLarge,
                $"{format} header declares {width}x{height} = {width * height} pixels, over the limit of {maxPixels} (Inference:MaxPixels)");
        }
    }

    private static string Describe(ReadOnlySpan<byte> data) =>
        Convert.ToHexString(data[..Math.Min(8, data.Length)]).ToLowerInvariant() is var hex
            ? $"0x{hex}"
            : string.Empty;
}
