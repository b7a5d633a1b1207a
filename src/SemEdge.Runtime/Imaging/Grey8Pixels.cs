namespace SemEdge.Imaging;

/// <summary>
/// 8-bit grey pixel buffers (row-major, one byte per pixel) for what people look at: the technician's page,
/// the demo, contact sheets. The model's own input goes through <see cref="Preprocessor"/> instead.
/// </summary>
public static class Grey8Pixels
{
    /// <summary>Any decoded layout reduced to 8-bit grey (BT.601 weights for colour, the high byte of 16-bit samples).</summary>
    public static byte[] From(DecodedImage image)
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

    /// <summary>
    /// Area-average reduction to <paramref name="width"/> × <paramref name="height"/> (the model's own kind of
    /// resize); an enlargement repeats the nearest pixel.
    /// </summary>
    public static byte[] AreaResize(byte[] pixels, int sourceWidth, int sourceHeight, int width, int height)
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
