using SkiaSharp;

namespace SemEdge.Imaging;

/// <summary>
/// PNG, JPEG, BMP and WebP through Skia's codecs, decoded straight into the pinned target buffer. Skia's codec
/// validates every header; 16-bit PNGs and (unless <paramref name="grey8FastPath"/> is false, for bench's
/// side-by-side figure) 8-bit opaque grey PNGs then have their rows read by hand.
/// </summary>
internal sealed class SkiaImageReader(long maxPixels, bool grey8FastPath = true)
{
    public unsafe void Read(ReadOnlyMemory<byte> data, ImageFormat format, DecodedImage target)
    {
        var name = format.ToString().ToUpperInvariant();
        fixed (byte* p = data.Span)
        {
            // Wraps the caller's bytes without a copy; the SKData must not outlive this block.
            using var skData = SKData.Create((IntPtr)p, data.Length);
            using var stream = new SKMemoryStream(skData);
            using var codec = SKCodec.Create(stream, out var openResult);
            if (codec is null)
            {
                throw Rejection(openResult, name, "header");
            }

            var info = codec.Info;
            ImageDecoder.CheckDimensions(info.Width, info.Height, maxPixels, name);

            if (IsSixteenBitPng(data.Span, format))
            {
                Png16Reader.Read(data, target);
                return;
            }

            if (grey8FastPath && format == ImageFormat.Png && PngImageData.IsOpaqueGrey8(data.Span))
            {
                PngGrey8Reader.Read(data, target);
                return;
            }

            var (layout, colorType) = Choose(info.ColorType);
            var pixels = target.Prepare(info.Width, info.Height, layout);

            // No colour space: pixels come out as encoded, so grey values match what the trainer reads.
            var dstInfo = new SKImageInfo(info.Width, info.Height, colorType, SKAlphaType.Unpremul);
            var result = codec.GetPixels(dstInfo, target.Address);
            if (result != SKCodecResult.Success)
            {
                throw Rejection(result, name, "pixel data");
            }

            _ = pixels;
        }
    }

    // Skia reports 16-bit grey PNGs as Gray8, which would drop the low byte; the IHDR says what is really there.
    private static bool IsSixteenBitPng(ReadOnlySpan<byte> data, ImageFormat format) =>
        format == ImageFormat.Png && data.Length > 24 && data[24] == 16;

    private static (PixelLayout Layout, SKColorType ColorType) Choose(SKColorType encoded) => encoded switch
    {
        SKColorType.Gray8 => (PixelLayout.Grey8, SKColorType.Gray8),

        _ => (PixelLayout.Rgba8, SKColorType.Rgba8888),
    };

    private static ImageRejectedException Rejection(SKCodecResult result, string format, string part) => result switch
    {
        SKCodecResult.IncompleteInput => new ImageRejectedException(ImageRejectReason.Truncated,
            $"{format} {part} ends early: the file is truncated (still being copied?)"),
        SKCodecResult.Unimplemented => new ImageRejectedException(ImageRejectReason.UnsupportedFormat,
            $"{format} variant not supported by the decoder"),
        _ => new ImageRejectedException(ImageRejectReason.Corrupt,
            $"{format} {part} is corrupt ({result})"),
    };
}
