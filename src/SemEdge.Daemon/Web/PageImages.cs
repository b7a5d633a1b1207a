using SemEdge.Imaging;

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
        var grey = Grey8Pixels.From(image);
        var scale = Math.Min(1.0, maxSize / (double)Math.Max(image.Width, image.Height));
        var width = Math.Max(1, (int)Math.Round(image.Width * scale));
        var height = Math.Max(1, (int)Math.Round(image.Height * scale));
        if (width != image.Width || height != image.Height)
        {
            grey = Grey8Pixels.AreaResize(grey, image.Width, image.Height, width, height);
        }

        return PngGray.Encode(grey, width, height);
    }
}
