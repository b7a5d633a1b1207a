namespace SemEdge.Imaging;

/// <summary>The container formats SemEdge accepts, recognised by their leading bytes (never by file name).</summary>
public enum ImageFormat
{
    Unknown,
    Png,
    Jpeg,
    Bmp,
    WebP,
    Tiff,
}

/// <summary>Recognises an image format from its magic bytes.</summary>
public static class ImageFormatSniffer
{
    private static ReadOnlySpan<byte> PngMagic => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private static ReadOnlySpan<byte> JpegMagic => [0xFF, 0xD8, 0xFF];

    private static ReadOnlySpan<byte> BmpMagic => [(byte)'B', (byte)'M'];

    private static ReadOnlySpan<byte> TiffLittleMagic => [(byte)'I', (byte)'I', 42, 0];

    private static ReadOnlySpan<byte> TiffBigMagic => [(byte)'M', (byte)'M', 0, 42];

    private static ReadOnlySpan<byte> BigTiffLittleMagic => [(byte)'I', (byte)'I', 43, 0];

    private static ReadOnlySpan<byte> BigTiffBigMagic => [(byte)'M', (byte)'M', 0, 43];

    private static ReadOnlySpan<byte> Riff => [(byte)'R', (byte)'I', (byte)'F', (byte)'F'];

    private static ReadOnlySpan<byte> WebP => [(byte)'W', (byte)'E', (byte)'B', (byte)'P'];

    /// <summary>The format, or <see cref="ImageFormat.Unknown"/>.</summary>
    /// <param name="data">The file's bytes (at least the first 12 for a verdict).</param>
    /// <param name="isPrefixOfKnown">True when the data is too short to tell but is the start of a known magic:
    /// the file was cut off rather than being some other format.</param>
    public static ImageFormat Sniff(ReadOnlySpan<byte> data, out bool isPrefixOfKnown)
    {
        isPrefixOfKnown = false;
        if (data.StartsWith(PngMagic)) return ImageFormat.Png;
        if (data.StartsWith(JpegMagic)) return ImageFormat.Jpeg;
        if (data.StartsWith(TiffLittleMagic) || data.StartsWith(TiffBigMagic)
            || data.StartsWith(BigTiffLittleMagic) || data.StartsWith(BigTiffBigMagic)) return ImageFormat.Tiff;
        if (data.Length >= 12 && data.StartsWith(Riff) && data.Slice(8, 4).SequenceEqual(WebP)) return ImageFormat.WebP;

        // BMP's magic is two letters; ask for a plausible header size too so text files starting "BM" are refused.
        if (data.StartsWith(BmpMagic) && data.Length >= 26) return ImageFormat.Bmp;

        isPrefixOfKnown = data.Length > 0 && (PngMagic.StartsWith(data) || JpegMagic.StartsWith(data)
            || TiffLittleMagic.StartsWith(data) || TiffBigMagic.StartsWith(data) || data.StartsWith(BmpMagic)
            || (data.Length < 12 && data.StartsWith(Riff)) || (data.Length < 4 && Riff.StartsWith(data)));
        return ImageFormat.Unknown;
    }
}
