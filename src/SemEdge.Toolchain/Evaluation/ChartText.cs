using SemEdge.Imaging;
using SkiaSharp;

namespace SemEdge.Toolchain.Evaluation;

/// <summary>
/// Chart text drawn as rectangles with the synthesizer's 5×7 <see cref="BitmapFont"/>. The board and CI images
/// carry no system fonts, and Skia's default typeface is empty without fontconfig. Text is drawn upper case.
/// </summary>
internal static class ChartText
{
    /// <summary>Width in device pixels of <paramref name="text"/> at <paramref name="scale"/>.</summary>
    public static float Measure(string text, float scale) =>
        text.Length == 0 ? 0 : (text.Length * BitmapFont.Advance - 1) * scale;

    public static float Height(float scale) => BitmapFont.GlyphHeight * scale;

    /// <summary>Draws <paramref name="text"/> with its top-left corner at (x, y) in the canvas's current transform.</summary>
    public static void Draw(SKCanvas canvas, string text, float x, float y, float scale, SKPaint paint)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = char.ToUpperInvariant(text[i]);
            var left = x + i * BitmapFont.Advance * scale;
            for (var row = 0; row < BitmapFont.GlyphHeight; row++)
            {
                for (var col = 0; col < BitmapFont.GlyphWidth; col++)
                {
                    if (BitmapFont.IsSet(c, col, row))
                    {
                        canvas.DrawRect(left + col * scale, y + row * scale, scale, scale, paint);
                    }
                }
            }
        }
    }

    /// <summary>Draws <paramref name="text"/> centred on (cx, cy), optionally rotated 90° anticlockwise.</summary>
    public static void DrawCentred(SKCanvas canvas, string text, float cx, float cy, float scale, SKPaint paint, bool vertical = false)
    {
        canvas.Save();
        canvas.Translate(cx, cy);
        if (vertical)
        {
            canvas.RotateDegrees(-90);
        }

        Draw(canvas, text, -Measure(text, scale) / 2, -Height(scale) / 2, scale, paint);
        canvas.Restore();
    }
}
