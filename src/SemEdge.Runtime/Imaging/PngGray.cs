using SkiaSharp;

namespace SemEdge.Imaging;

/// <summary>8-bit greyscale PNG encoding through SkiaSharp.</summary>
public static class PngGray
{
    /// <summary>Encodes at Skia's default compression (the generator's images: their bytes are part of its determinism).</summary>
    public static byte[] Encode(byte[] pixels, int width, int height) => Encode(pixels, width, height, fast: false);

    /// <param name="fast">zlib level 1 and the Sub filter only: a few times cheaper, somewhat larger (the page's live thumbnails).</param>
    public static byte[] Encode(byte[] pixels, int width, int height, bool fast)
    {
        var info = new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        var span = bitmap.GetPixelSpan();
        if (bitmap.RowBytes == width)
        {
            pixels.AsSpan().CopyTo(span);
        }
        else
        {
            for (var y = 0; y < height; y++)
            {
                pixels.AsSpan(y * width, width).CopyTo(span.Slice(y * bitmap.RowBytes, width));
            }
        }
        if (fast)
        {
            using var pixmap = bitmap.PeekPixels();
            using var quick = pixmap.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.Sub, 1)) ?? throw new InvalidOperationException("PNG encoding failed");
            return quick.ToArray();
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>Decodes any PNG to 8-bit grey (tests and tools read images back this way).</summary>
    public static (byte[] Pixels, int Width, int Height) Decode(byte[] png)
    {
        using var source = SKBitmap.Decode(png) ?? throw new InvalidDataException("not a decodable image");
        var info = new SKImageInfo(source.Width, source.Height, SKColorType.Gray8, SKAlphaType.Opaque);
        using var grey = new SKBitmap(info);
        if (!source.CopyTo(grey, SKColorType.Gray8))
        {
            throw new InvalidDataException("image could not be converted to 8-bit grey");
        }
        var pixels = new byte[source.Width * source.Height];
        var span = grey.GetPixelSpan();
        for (var y = 0; y < source.Height; y++)
        {
            span.Slice(y * grey.RowBytes, source.Width).CopyTo(pixels.AsSpan(y * source.Width, source.Width));
        }
        return (pixels, source.Width, source.Height);
    }
}
