using SkiaSharp;

namespace SemEdge.Toolchain.Evaluation;

/// <summary>
/// Draws a confusion matrix as a PNG: true class down the left, predicted class along the bottom, the count in
/// every cell, cells shaded by the share of their row (so a weak class shows even when classes are unbalanced).
/// </summary>
internal static class ConfusionMatrixChart
{
    private const int Cell = 64;
    private const float TextScale = 2f;
    private const int Margin = 16;

    public static byte[] RenderPng(ConfusionMatrix matrix, string title)
    {
        var n = matrix.Classes.Count;
        var labelWidth = (int)matrix.Classes.Max(c => ChartText.Measure(c, TextScale)) + 12;
        var titleHeight = (int)ChartText.Height(TextScale) + 2 * Margin;
        var axisTitle = (int)ChartText.Height(TextScale) + Margin;
        var left = Margin + axisTitle + labelWidth;
        var top = titleHeight;
        var width = Math.Max(left + n * Cell + Margin, (int)ChartText.Measure(title, TextScale) + 2 * Margin);
        var height = top + n * Cell + labelWidth + axisTitle + Margin;

        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = false };
        using var light = new SKPaint { Color = SKColors.White, IsAntialias = false };
        using var grid = new SKPaint { Color = new SKColor(0xC0, 0xC0, 0xC0), Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
        using var fill = new SKPaint { IsAntialias = false };

        ChartText.DrawCentred(canvas, title, width / 2f, titleHeight / 2f, TextScale, ink);
        for (var a = 0; a < n; a++)
        {
            var rowTotal = Math.Max(1, matrix.Actual(a));
            for (var p = 0; p < n; p++)
            {
                var count = matrix[a, p];
                var share = (float)count / rowTotal;
                // White to dark blue; off-diagonal errors in a red scale so confusions stand out.
                fill.Color = a == p ? Shade(new SKColor(0x1F, 0x4E, 0x9A), share) : Shade(new SKColor(0xC0, 0x30, 0x30), share);
                var x = left + p * Cell;
                var y = top + a * Cell;
                canvas.DrawRect(x, y, Cell, Cell, fill);
                canvas.DrawRect(x, y, Cell, Cell, grid);
                ChartText.DrawCentred(canvas, count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    x + Cell / 2f, y + Cell / 2f, TextScale, share > 0.5f ? light : ink);
            }

            // Row labels, right-aligned against the grid.
            var label = matrix.Classes[a];
            ChartText.Draw(canvas, label, left - 8 - ChartText.Measure(label, TextScale),
                top + a * Cell + (Cell - ChartText.Height(TextScale)) / 2, TextScale, ink);
        }

        for (var p = 0; p < n; p++)
        {
            // Column labels read bottom-up, their right end against the grid.
            var label = matrix.Classes[p];
            var length = ChartText.Measure(label, TextScale);
            ChartText.DrawCentred(canvas, label, left + p * Cell + Cell / 2f, top + n * Cell + 8 + length / 2, TextScale, ink, vertical: true);
        }

        ChartText.DrawCentred(canvas, "predicted", left + n * Cell / 2f, top + n * Cell + labelWidth + axisTitle / 2f, TextScale, ink);
        ChartText.DrawCentred(canvas, "true", Margin + axisTitle / 2f, top + n * Cell / 2f, TextScale, ink, vertical: true);

        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    private static SKColor Shade(SKColor full, float share)
    {
        share = Math.Clamp(share, 0, 1);
        byte Mix(byte c) => (byte)(255 - (255 - c) * share);
        return new SKColor(Mix(full.Red), Mix(full.Green), Mix(full.Blue));
    }
}
