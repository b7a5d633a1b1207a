using SemEdge.Imaging;
using SemEdge.Synthesis;

namespace SemEdge.Web;

/// <summary>
/// Archived images as the browser can show them: decoded by the daemon's own decoder (TIFF and 16-bit PNG
/// included), reduced to 8-bit grey by area averaging, at most <c>maxSize</c> pixels a side, as PNG.
/// </summary>
public static class PageImages
{
    public const int ThumbnailSize = 192;
    public const int FullSize = 1024;

    /// <exception cref="ImageRejectedException">The file is not an image the decoder reads.</exception>
    public static byte[] RenderPng(string path, int maxSize, long maxPixels)
    {
        var decoder = new ImageDecoder(maxPixels);
        var image = new DecodedImage();
        decoder.Decode(File.ReadAllBytes(path), image);
        var grey = ToGrey8(image);
        var scale = Math.Min(1.0, maxSize / (double)Math.Max(image.Width, image.Height));
        var width = Math.Max(1, (int)Math.Round(image.Width * scale));
        var height = Math.Max(1, (int)Math.Round(image.Height * scale));
        if (width != image.Width || height != image.Height)
        {
            grey = Resize(grey, image.Width, image.Height, width, height);
        }

        return PngGray.Encode(grey, width, height);
    }

    internal static byte[] ToGrey8(DecodedImage image)
    {
        var pixels = image.Pixels;
        var grey = new byte[image.Width * image.Height];
        for (var i = 0; i < grey.Length; i++)
        {
            grey[i] = image.Layout switch
            {
                PixelLayout.Grey8 => pixels[i],
                PixelLayout.Grey16 => (byte)(BitConverter.ToUInt16(pixels.Slice(i * 2, 2)) >> 8),
                PixelLayout.Rgba8 => (byte)((pixels[i * 4] * 77 + pixels[(i * 4) + 1] * 150 + pixels[(i * 4) + 2] * 29) >> 8),
                _ => (byte)(((BitConverter.ToUInt16(pixels.Slice(i * 8, 2)) >> 8) * 77 + (BitConverter.ToUInt16(pixels.Slice((i * 8) + 2, 2)) >> 8) * 150 +
                             (BitConverter.ToUInt16(pixels.Slice((i * 8) + 4, 2)) >> 8) * 29) >> 8),
            };
        }

        return grey;
    }

    /// <summary>Area-average reduction to <paramref name="width"/> × <paramref name="height"/>.</summary>
    internal static byte[] Resize(byte[] pixels, int sourceWidth, int sourceHeight, int width, int height)
    {
        var result = new byte[width * height];
        for (var ty = 0; ty < height; ty++)
        {
            var y0 = ty * sourceHeight / height;
            var y1 = Math.Max(y0 + 1, (ty + 1) * sourceHeight / height);
            for (var tx = 0; tx < width; tx++)
            {
                var x0 = tx * sourceWidth / width;
                var x1 = Math.Max(x0 + 1, (tx + 1) * sourceWidth / width);
                long sum = 0;
                for (var y = y0; y < y1; y++)
                {
                    for (var x = x0; x < x1; x++)
                    {
                        sum += pixels[(y * sourceWidth) + x];
                    }
                }

                result[(ty * width) + tx] = (byte)(sum / ((y1 - y0) * (x1 - x0)));
            }
        }

        return result;
    }
}
