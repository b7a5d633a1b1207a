using SemEdge.Imaging;

namespace SemEdge.Synthesis;

/// <summary>A labelled grid of examples, one row per class, at the resolution the classifier sees.</summary>
public static class ContactSheet
{
    public const int ThumbnailSize = 128;
    private const int LabelWidth = 110;
    private const int Gap = 4;

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
