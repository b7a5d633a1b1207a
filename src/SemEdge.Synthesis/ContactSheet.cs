namespace SemEdge.Synthesis;

/// <summary>A labelled grid of examples, one row per class, at the resolution the classifier sees.</summary>
public static class ContactSheet
{
    public const int ThumbnailSize = 128;
    private const int LabelWidth = 110;
    private const int Gap = 4;

    /// <summary>Area-average downscale (the model's own resize), nearest for upscales.</summary>
    public static byte[] Downscale(byte[] pixels, int width, int height, int size)
    {
        var result = new byte[size * size];
        for (var ty = 0; ty < size; ty++)
        {
            var y0 = ty * height / size;
            var y1 = Math.Max(y0 + 1, (ty + 1) * height / size);
            for (var tx = 0; tx < size; tx++)
            {
                var x0 = tx * width / size;
                var x1 = Math.Max(x0 + 1, (tx + 1) * width / size);
                var sum = 0;
                for (var y = y0; y < y1; y++)
                {
                    for (var x = x0; x < x1; x++)
                    {
                        sum += pixels[y * width + x];
                    }
                }
                result[ty * size + tx] = (byte)(sum / ((y1 - y0) * (x1 - x0)));
            }
        }
        return result;
    }

    /// <summary>Builds the sheet; <paramref name="thumbnail"/> returns null where a class has fewer images.</summary>
    public static byte[] Compose(IReadOnlyList<string> classes, int columns, Func<string, int, byte[]?> thumbnail)
    {
        var cell = ThumbnailSize + Gap;
        var width = LabelWidth + columns * cell + Gap;
        var height = classes.Count * cell + Gap;
        var pixels = new byte[width * height];
        pixels.AsSpan().Fill(40);
        for (var row = 0; row < classes.Count; row++)
        {
            var top = Gap + row * cell;
            BitmapFont.Draw(pixels, width, height, 6, top + ThumbnailSize / 2 - 7, classes[row].ToUpperInvariant(), 2, 235);
            for (var col = 0; col < columns; col++)
            {
                var thumb = thumbnail(classes[row], col);
                if (thumb is null)
                {
                    continue;
                }
                var left = LabelWidth + col * cell;
                for (var y = 0; y < ThumbnailSize; y++)
                {
                    thumb.AsSpan(y * ThumbnailSize, ThumbnailSize).CopyTo(pixels.AsSpan((top + y) * width + left, ThumbnailSize));
                }
            }
        }
        return PngGray.Encode(pixels, width, height);
    }
}
