using System.Runtime.InteropServices;
using SemEdge.Imaging;
using SkiaSharp;

namespace SemEdge.Synthesis;

/// <summary>
/// Turns a rendered micrograph into what a crop from a published figure looks like: a grey mapping of a colour
/// or contrast-adjusted original (gamma, levels, sometimes inverted), the frame placed with white margins,
/// zoomed, shifted or tilted, blur from the figure's downscale, a panel letter, labels ("SEM", "50 nm"), a bare
/// scale bar, arrows and drawn ellipses, and JPEG compression. Every choice comes from the figure stream and
/// none depends on the class. Arrows and ellipses point at the defect where there is one and at a spot near the
/// centre (where defects are placed) where there is none, drawn with the same probability for every class.
/// Each stage reports how far it spreads a change, so the defect box grows exactly as far as the defect can reach.
/// </summary>
public sealed class FigureCrop
{
    private static readonly string[] Labels = ["SEM", "TEM", "SE", "BSE", "FIB", "STEM", "HAADF", "TOP VIEW", "X-SECTION", "TILT 52", "30 kV", "5 kV"];
    private static readonly string[] ScaleLabels = ["10 nm", "20 nm", "50 nm", "100 nm", "200 nm", "500 nm", "1 um", "2 um", "5 um", "10 um", "20 um"];
    private static readonly string[] Panels = ["a", "b", "c", "d", "e", "f", "(a)", "(b)", "(c)", "(d)", "A", "B", "C", "D"];

    private readonly int _width;
    private readonly int _height;
    private readonly byte[] _lut = new byte[256];
    private readonly double _zoom;
    private readonly double _angle;
    private readonly double _shiftX;
    private readonly double _shiftY;
    private readonly byte _margin;
    private readonly double _blurSigma;
    private readonly int _fontScale;
    private readonly string? _panel;
    private readonly int _panelCorner;
    private readonly bool _panelBoxed;
    private readonly string? _label;
    private readonly int _labelCorner;
    private readonly string? _scaleBar;
    private readonly int _scaleBarLength;
    private readonly int _scaleBarCorner;
    private readonly byte _textValue;
    private readonly bool _arrow;
    private readonly bool _ellipse;
    private readonly byte _markValue;
    private readonly double _markThickness;
    private readonly (double X, double Y) _cleanTarget;
    private readonly double _cleanRadius;
    private readonly double _arrowAngle;
    private readonly double _arrowLength;
    private readonly double _ellipseAspect;
    private readonly bool _dashed;
    private readonly int _jpegQuality;

    /// <summary>Draws a figure crop for a frame of the given size from the figure stream.</summary>
    public FigureCrop(SynthRandom rng, int width, int height)
    {
        _width = width;
        _height = height;
        var size = Math.Min(width, height);
        var scale = size / 256.0;

        // Grey mapping: gamma and levels of a colour or contrast-adjusted original, now and then inverted.
        var gamma = rng.LogUniform(0.55, 1.8);
        var lo = rng.Chance(0.5) ? rng.Uniform(0, 0.25) : 0;
        var hi = rng.Chance(0.5) ? rng.Uniform(0.75, 1) : 1;
        var invert = rng.Chance(0.15);
        var posterise = rng.Chance(0.15) ? rng.Next(12, 40) : 0;
        for (var i = 0; i < 256; i++)
        {
            var v = Math.Pow(i / 255.0, gamma);
            v = lo + (hi - lo) * v;
            if (invert)
            {
                v = 1 - v;
            }
            if (posterise > 0)
            {
                v = Math.Round(v * posterise) / posterise;
            }
            _lut[i] = (byte)Math.Clamp((int)Math.Round(v * 255), 0, 255);
        }

        // Placement: shrunk into white margins, or zoomed so the frame's edges (and data bar) are cut off.
        _zoom = rng.Chance(0.35) ? rng.Uniform(0.7, 0.95) : rng.Uniform(1.0, 1.35);
        _angle = rng.Chance(0.35) ? rng.Uniform(-7, 7) * Math.PI / 180 : 0;
        var room = Math.Abs(1 - _zoom) * 0.5;
        _shiftX = rng.Uniform(-room, room) * width;
        _shiftY = rng.Uniform(-room, room) * height;
        _margin = rng.Pick([0.75, 0.15, 0.1]) switch
        {
            0 => 255,
            1 => (byte)rng.Next(200, 245),
            _ => (byte)rng.Next(0, 30),
        };
        _blurSigma = rng.Chance(0.6) ? rng.Uniform(0.3, 1.4) * scale : 0;

        _fontScale = Math.Max(1, (int)Math.Round(rng.Uniform(1.0, 2.2) * scale));
        _textValue = rng.Chance(0.7) ? (byte)255 : (byte)rng.Next(0, 20);
        // Panel letter, label and scale bar each take their own corner, as in a laid-out figure: the (short) panel
        // letter shares a row with the label, the scale bar takes the other row. Corners: 0 1 top, 2 3 bottom.
        var first = rng.Next(0, 4);
        var diagonal = rng.Chance(0.5);
        if (rng.Chance(0.5))
        {
            _panel = Panels[rng.Next(0, Panels.Length)];
            _panelCorner = first;
            _panelBoxed = rng.Chance(0.4);
        }
        if (rng.Chance(0.35))
        {
            _label = Labels[rng.Next(0, Labels.Length)];
            _labelCorner = first ^ 1;
        }
        if (rng.Chance(0.45))
        {
            _scaleBar = ScaleLabels[rng.Next(0, ScaleLabels.Length)];
            _scaleBarLength = (int)(width * rng.Uniform(0.12, 0.3));
            _scaleBarCorner = first ^ (diagonal ? 3 : 2);
        }

        _arrow = rng.Chance(0.3);
        _ellipse = rng.Chance(0.2);
        _markValue = rng.Pick([0.45, 0.25, 0.3]) switch
        {
            // White, black, or a coloured mark (red, yellow, green) turned grey.
            0 => 255,
            1 => 0,
            _ => (byte)rng.Next(70, 230),
        };
        _markThickness = rng.Uniform(1.2, 3) * scale;
        _cleanTarget = (width / 2.0 + rng.Gaussian() * 0.16 * width, height / 2.0 + rng.Gaussian() * 0.16 * height);
        _cleanRadius = rng.Uniform(0.06, 0.22) * size;
        _arrowAngle = rng.Uniform(0, 2 * Math.PI);
        _arrowLength = rng.Uniform(0.12, 0.3) * size;
        _ellipseAspect = rng.Uniform(0.6, 1);
        _dashed = rng.Chance(0.3);
        _jpegQuality = rng.Chance(0.65) ? rng.Next(25, 92) : 0;
    }

    public bool DrawsArrow => _arrow;

    public bool DrawsEllipse => _ellipse;

    /// <summary>The least share of the defect box a zoomed crop must keep in the frame; otherwise the scene is redrawn.</summary>
    public const double KeptShare = 0.6;

    /// <summary>The review-tool data bar survives into a figure less often than in a raw review frame.</summary>
    public const double DataBarChance = 0.35;

    /// <summary>Applies the crop to <paramref name="pixels"/> and returns the new pixels and where the defect box went.</summary>
    public (byte[] Pixels, DefectBox? Box) Apply(byte[] pixels, DefectBox? box)
    {
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = _lut[pixels[i]];
        }
        var placed = Place(pixels);
        var outBox = box is { } b ? PlacedBox(b) : (PixelRect?)null;
        if (outBox is { } whole)
        {
            var kept = whole.Intersect(new PixelRect(0, 0, _width, _height));
            if (kept.IsEmpty || (double)kept.Width * kept.Height < KeptShare * whole.Width * whole.Height)
            {
                throw new DefectNotPlacedException("the figure crop cuts the defect out of the frame");
            }
        }
        if (_blurSigma > 0)
        {
            var image = new FloatImage(_width, _height);
            for (var i = 0; i < placed.Length; i++)
            {
                image.Data[i] = placed[i];
            }
            image.GaussianBlur(_blurSigma, _blurSigma);
            for (var i = 0; i < placed.Length; i++)
            {
                placed[i] = (byte)Math.Clamp((int)MathF.Round(image.Data[i]), 0, 255);
            }
            outBox = outBox?.Inflate(FloatImage.KernelRadius(_blurSigma));
        }
        var bounds = new PixelRect(0, 0, _width, _height);
        outBox = outBox?.Intersect(bounds);
        Annotate(placed, outBox is { IsEmpty: false } r ? r : null);
        if (_jpegQuality > 0)
        {
            placed = JpegRoundTrip(placed, _width, _height, _jpegQuality);
            if (outBox is { } jb)
            {
                // A JPEG block is coded on its own: a change reaches the whole of every 8x8 block it touches.
                outBox = new PixelRect(jb.X0 / 8 * 8, jb.Y0 / 8 * 8, (jb.X1 + 7) / 8 * 8, (jb.Y1 + 7) / 8 * 8).Intersect(bounds);
            }
        }
        DefectBox? result = outBox is { IsEmpty: false } o ? new DefectBox(o.X0, o.Y0, o.Width, o.Height) : null;
        return (placed, result);
    }

    // Output (x, y) samples the source at Inverse(x, y): rotate about the frame centre, scale by 1/zoom, shift.
    private (double X, double Y) Inverse(double x, double y)
    {
        var cx = _width / 2.0;
        var cy = _height / 2.0;
        var dx = x - cx - _shiftX;
        var dy = y - cy - _shiftY;
        var (c, s) = (Math.Cos(_angle), Math.Sin(_angle));
        return (cx + (dx * c + dy * s) / _zoom, cy + (-dx * s + dy * c) / _zoom);
    }

    private (double X, double Y) Forward(double x, double y)
    {
        var cx = _width / 2.0;
        var cy = _height / 2.0;
        var dx = (x - cx) * _zoom;
        var dy = (y - cy) * _zoom;
        var (c, s) = (Math.Cos(_angle), Math.Sin(_angle));
        return (cx + _shiftX + dx * c - dy * s, cy + _shiftY + dx * s + dy * c);
    }

    private byte[] Place(byte[] src)
    {
        var w = _width;
        var h = _height;
        var dst = new byte[w * h];
        var (ox, oy) = Inverse(0, 0);
        var (ax, ay) = Inverse(1, 0);
        var (bx, by) = Inverse(0, 1);
        var (dxx, dxy) = (ax - ox, ay - oy);
        var (dyx, dyy) = (bx - ox, by - oy);
        for (var y = 0; y < h; y++)
        {
            var sx = ox + y * dyx;
            var sy = oy + y * dyy;
            for (var x = 0; x < w; x++, sx += dxx, sy += dxy)
            {
                var x0 = (int)Math.Floor(sx);
                var y0 = (int)Math.Floor(sy);
                var fx = sx - x0;
                var fy = sy - y0;
                var v = (1 - fy) * ((1 - fx) * Sample(src, x0, y0) + fx * Sample(src, x0 + 1, y0))
                    + fy * ((1 - fx) * Sample(src, x0, y0 + 1) + fx * Sample(src, x0 + 1, y0 + 1));
                dst[y * w + x] = (byte)Math.Clamp((int)Math.Round(v), 0, 255);
            }
        }
        return dst;
    }

    private double Sample(byte[] src, int x, int y) =>
        (uint)x < (uint)_width && (uint)y < (uint)_height ? src[y * _width + x] : _margin;

    /// <summary>
    /// Output pixels whose bilinear footprint touches the box: the source rectangle grown by one pixel on the low
    /// side, mapped forward, bounded and grown by one more for rounding.
    /// </summary>
    private PixelRect PlacedBox(DefectBox b)
    {
        var corners = new[]
        {
            Forward(b.X - 1, b.Y - 1), Forward(b.X + b.Width, b.Y - 1),
            Forward(b.X - 1, b.Y + b.Height), Forward(b.X + b.Width, b.Y + b.Height),
        };
        return new PixelRect(
            (int)Math.Floor(corners.Min(c => c.X)) - 1, (int)Math.Floor(corners.Min(c => c.Y)) - 1,
            (int)Math.Ceiling(corners.Max(c => c.X)) + 2, (int)Math.Ceiling(corners.Max(c => c.Y)) + 2);
    }

    private void Annotate(byte[] pixels, PixelRect? defect)
    {
        var size = Math.Min(_width, _height);
        var (tx, ty) = defect is { } d ? ((d.X0 + d.X1) / 2.0, (d.Y0 + d.Y1) / 2.0) : _cleanTarget;
        var radius = defect is { } e ? Math.Clamp(Math.Max(e.Width, e.Height) * 0.55, 0.05 * size, 0.4 * size) : _cleanRadius;
        if (_ellipse)
        {
            DrawEllipse(pixels, tx, ty, radius * 1.1, radius * 1.1 * _ellipseAspect);
        }
        if (_arrow)
        {
            var (ux, uy) = (Math.Cos(_arrowAngle), Math.Sin(_arrowAngle));
            var gap = Math.Min(radius, 0.25 * size) + _markThickness * 2;
            var (hx, hy) = (tx + ux * gap, ty + uy * gap);
            var (sx, sy) = (hx + ux * _arrowLength, hy + uy * _arrowLength);
            DrawArrow(pixels, sx, sy, hx, hy);
        }

        var pad = Math.Max(2, size / 40);
        var glyphH = BitmapFont.GlyphHeight * _fontScale;
        if (_panel is not null)
        {
            var panelScale = _fontScale + 1;
            var w = BitmapFont.MeasureWidth(_panel, panelScale);
            var (px, py) = Corner(_panelCorner, w, BitmapFont.GlyphHeight * panelScale, pad);
            if (_panelBoxed)
            {
                FillRect(pixels, px - pad / 2, py - pad / 2, px + w + pad / 2, py + BitmapFont.GlyphHeight * panelScale + pad / 2, (byte)(255 - _textValue));
            }
            BitmapFont.Draw(pixels, _width, _height, px, py, _panel, panelScale, _textValue);
        }
        if (_label is not null)
        {
            var w = BitmapFont.MeasureWidth(_label, _fontScale);
            var (lx, ly) = Corner(_labelCorner, w, glyphH, pad);
            BitmapFont.Draw(pixels, _width, _height, lx, ly, _label, _fontScale, _textValue);
        }
        if (_scaleBar is not null)
        {
            var thickness = Math.Max(2, _fontScale + 1);
            var (bx, by) = Corner(_scaleBarCorner, _scaleBarLength, glyphH + thickness + 2 * _fontScale, pad);
            var labelWidth = BitmapFont.MeasureWidth(_scaleBar, _fontScale);
            BitmapFont.Draw(pixels, _width, _height, bx + (_scaleBarLength - labelWidth) / 2, by, _scaleBar, _fontScale, _textValue);
            FillRect(pixels, bx, by + glyphH + 2 * _fontScale, bx + _scaleBarLength, by + glyphH + 2 * _fontScale + thickness, _textValue);
        }
    }

    private (int X, int Y) Corner(int corner, int w, int h, int pad) => corner switch
    {
        0 => (pad, pad),
        1 => (_width - w - pad, pad),
        2 => (pad, _height - h - pad),
        _ => (_width - w - pad, _height - h - pad),
    };

    private void DrawArrow(byte[] pixels, double sx, double sy, double hx, double hy)
    {
        var t = _markThickness;
        Stroke(pixels, sx, sy, hx, hy, t);
        var angle = Math.Atan2(sy - hy, sx - hx);
        var head = Math.Max(4 * t, 0.04 * Math.Min(_width, _height));
        foreach (var side in new[] { -0.45, 0.45 })
        {
            Stroke(pixels, hx, hy, hx + Math.Cos(angle + side) * head, hy + Math.Sin(angle + side) * head, t);
        }
    }

    private void DrawEllipse(byte[] pixels, double cx, double cy, double rx, double ry)
    {
        var steps = Math.Max(24, (int)(2 * Math.PI * Math.Max(rx, ry) / 3));
        for (var i = 0; i < steps; i++)
        {
            if (_dashed && (i / 3) % 2 == 1)
            {
                continue;
            }
            var a0 = 2 * Math.PI * i / steps;
            var a1 = 2 * Math.PI * (i + 1) / steps;
            Stroke(pixels, cx + rx * Math.Cos(a0), cy + ry * Math.Sin(a0), cx + rx * Math.Cos(a1), cy + ry * Math.Sin(a1), _markThickness);
        }
    }

    /// <summary>An anti-aliased line of the given thickness, blended towards the mark's grey.</summary>
    private void Stroke(byte[] pixels, double ax, double ay, double bx, double by, double thickness)
    {
        var r = thickness / 2;
        var rect = new PixelRect((int)Math.Floor(Math.Min(ax, bx) - r - 1), (int)Math.Floor(Math.Min(ay, by) - r - 1),
            (int)Math.Ceiling(Math.Max(ax, bx) + r + 2), (int)Math.Ceiling(Math.Max(ay, by) + r + 2)).Intersect(new PixelRect(0, 0, _width, _height));
        var dx = bx - ax;
        var dy = by - ay;
        var len2 = dx * dx + dy * dy;
        for (var y = rect.Y0; y < rect.Y1; y++)
        {
            for (var x = rect.X0; x < rect.X1; x++)
            {
                var t = len2 > 0 ? Math.Clamp(((x - ax) * dx + (y - ay) * dy) / len2, 0, 1) : 0;
                var px = ax + t * dx - x;
                var py = ay + t * dy - y;
                var cover = Math.Clamp(r - Math.Sqrt(px * px + py * py) + 0.5, 0, 1);
                if (cover > 0)
                {
                    var i = y * _width + x;
                    pixels[i] = (byte)Math.Round(pixels[i] + (_markValue - pixels[i]) * cover);
                }
            }
        }
    }

    private void FillRect(byte[] pixels, int x0, int y0, int x1, int y1, byte value) =>
        BitmapFont.FillRect(pixels, _width, _height, x0, y0, x1, y1, value);

    /// <summary>Encodes to JPEG and decodes back, in memory, as 8-bit grey (a greyscale JPEG: no chroma planes).</summary>
    public static byte[] JpegRoundTrip(byte[] pixels, int width, int height, int quality)
    {
        var info = new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        for (var y = 0; y < height; y++)
        {
            Marshal.Copy(pixels, y * width, bitmap.GetPixels() + (y * bitmap.RowBytes), width);
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, quality)
            ?? throw new InvalidOperationException("SkiaSharp could not encode JPEG");
        using var decoded = SKBitmap.Decode(data, info)
            ?? throw new InvalidOperationException("SkiaSharp could not decode its own JPEG");
        var result = new byte[pixels.Length];
        for (var y = 0; y < height; y++)
        {
            Marshal.Copy(decoded.GetPixels() + (y * decoded.RowBytes), result, y * width, width);
        }
        return result;
    }
}
