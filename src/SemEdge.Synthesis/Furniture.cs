using System.Globalization;
using SemEdge.Imaging;

namespace SemEdge.Synthesis;

/// <summary>
/// What a SEM review tool burns into its images regardless of content: the data bar along the bottom (beam
/// voltage, magnification, working distance, detector, scale bar, an ID), a scale marker or cross-hair in
/// the field, and now and then an operator's annotation circle. Drawn on every class from the nuisance
/// stream, so the classifier must learn to look past it.
/// </summary>
public sealed class Furniture
{
    private static readonly string[] Detectors = ["SE", "SE2", "INLENS", "TLD", "ETD", "BSE", "SEI", "LEI"];
    private static readonly string[] Tools = ["REVIEW", "CD-SEM", "DR-SEM", "EBI", "FIB-SEM", "INSP"];
    private static readonly int[] ScaleNm = [20, 50, 100, 200, 250, 500, 1000, 2000, 5000];

    private readonly int _width;
    private readonly int _height;
    private readonly int _barHeight;
    private readonly bool _darkBar;
    private readonly int _fontScale;
    private readonly string[] _fields;
    private readonly string _scaleLabel;
    private readonly int _scaleBarLength;
    private readonly bool _scaleMarker;
    private readonly (int X, int Y) _markerAt;
    private readonly bool _crossHair;
    private readonly (double X, double Y, double R, double Thickness, byte Value)? _circle;

    /// <summary>How often a review frame carries the data bar.</summary>
    public const double ReviewDataBarChance = 0.85;

    public Furniture(SynthRandom rng, int width, int height, double dataBarChance = ReviewDataBarChance)
    {
        _width = width;
        _height = height;
        var scale = Math.Min(width, height) / 512.0;
        _fontScale = Math.Max(1, (int)Math.Round(rng.Uniform(1.4, 2.4) * scale));
        _barHeight = rng.Chance(dataBarChance) ? Math.Max(BitmapFont.GlyphHeight * _fontScale * 2 + 8, (int)(height * rng.Uniform(0.07, 0.13))) : 0;
        _darkBar = rng.Chance(0.8);
        var kv = rng.Pick([1, 2, 2, 1, 1]) switch
        {
            0 => 0.5,
            1 => 1.0,
            2 => 2.0,
            3 => 5.0,
            _ => 15.0,
        };
        var mag = Math.Round(rng.LogUniform(5, 300), 1);
        var inv = CultureInfo.InvariantCulture;
        var fields = new List<string>
        {
            rng.Chance(0.5) ? string.Format(inv, "HV {0:0.00} kV", kv) : string.Format(inv, "{0:0.0}kV", kv),
            rng.Chance(0.5) ? string.Format(inv, "MAG {0} kx", mag) : string.Format(inv, "x{0}k", mag),
            string.Format(inv, "WD {0:0.0} mm", rng.Uniform(2, 10)),
            Detectors[rng.Next(0, Detectors.Length)],
        };
        if (rng.Chance(0.6))
        {
            fields.Add(string.Format(inv, "{0} {1:00}/{2:00}", Tools[rng.Next(0, Tools.Length)], rng.Next(1, 26), rng.Next(1, 99)));
        }
        if (rng.Chance(0.5))
        {
            fields.Add(string.Format(inv, "#{0:000000}", rng.Next(0, 1000000)));
        }
        _fields = [.. fields];
        var nm = ScaleNm[rng.Next(0, ScaleNm.Length)];
        _scaleLabel = nm >= 1000 ? string.Format(inv, "{0} um", nm / 1000) : string.Format(inv, "{0} nm", nm);
        _scaleBarLength = (int)(width * rng.Uniform(0.08, 0.2));
        var live = LiveArea;
        _scaleMarker = rng.Chance(0.3);
        _markerAt = (rng.Next(8, Math.Max(9, width - _scaleBarLength - 16)), rng.Next(8, Math.Max(9, live.Y1 - 30)));
        _crossHair = rng.Chance(0.12);
        if (rng.Chance(0.15))
        {
            var r = rng.Uniform(0.04, 0.16) * Math.Min(width, height);
            _circle = (rng.Uniform(r, width - r), rng.Uniform(r, Math.Max(r + 1, live.Y1 - r)), r,
                Math.Max(1.5, rng.Uniform(1.5, 3.5) * scale), rng.Chance(0.7) ? (byte)255 : (byte)10);
        }
    }

    /// <summary>The rows not covered by the data bar.</summary>
    public PixelRect LiveArea => new(0, 0, _width, _height - _barHeight);

    public void Draw(byte[] pixels)
    {
        if (_circle is { } c)
        {
            DrawRing(pixels, c.X, c.Y, c.R, c.Thickness, c.Value);
        }
        if (_crossHair)
        {
            var cx = _width / 2;
            var cy = (_height - _barHeight) / 2;
            var arm = Math.Min(_width, _height) / 20;
            FillRect(pixels, cx - arm, cy, cx + arm + 1, cy + 1, 255);
            FillRect(pixels, cx, cy - arm, cx + 1, cy + arm + 1, 255);
        }
        if (_scaleMarker)
        {
            DrawScaleBar(pixels, _markerAt.X, _markerAt.Y, 255, drawBackground: false);
        }
        if (_barHeight > 0)
        {
            DrawDataBar(pixels);
        }
    }

    private void DrawDataBar(byte[] pixels)
    {
        var top = _height - _barHeight;
        var bg = _darkBar ? (byte)8 : (byte)215;
        var fg = _darkBar ? (byte)235 : (byte)20;
        FillRect(pixels, 0, top, _width, _height, bg);
        FillRect(pixels, 0, top, _width, top + 1, fg);
        var lineHeight = (BitmapFont.GlyphHeight + 3) * _fontScale;
        var x = 4 * _fontScale;
        var y = top + 4;
        foreach (var field in _fields)
        {
            var w = BitmapFont.MeasureWidth(field, _fontScale);
            if (x + w > _width - _scaleBarLength - 12)
            {
                x = 4 * _fontScale;
                y += lineHeight;
            }
            if (y + BitmapFont.GlyphHeight * _fontScale > _height)
            {
                break;
            }
            BitmapFont.Draw(pixels, _width, _height, x, y, field, _fontScale, fg);
            x += w + 4 * _fontScale;
        }
        DrawScaleBar(pixels, _width - _scaleBarLength - 8, top + 4, fg, drawBackground: false);
    }

    private void DrawScaleBar(byte[] pixels, int x, int y, byte value, bool drawBackground)
    {
        var thickness = Math.Max(2, _fontScale + 1);
        var textY = y;
        var barY = y + (BitmapFont.GlyphHeight + 2) * _fontScale;
        if (drawBackground)
        {
            FillRect(pixels, x - 2, y - 2, x + _scaleBarLength + 2, barY + thickness + 2, 0);
        }
        var labelWidth = BitmapFont.MeasureWidth(_scaleLabel, _fontScale);
        BitmapFont.Draw(pixels, _width, _height, x + (_scaleBarLength - labelWidth) / 2, textY, _scaleLabel, _fontScale, value);
        FillRect(pixels, x, barY, x + _scaleBarLength, barY + thickness, value);
        FillRect(pixels, x, barY - 2 * _fontScale, x + thickness, barY + thickness, value);
        FillRect(pixels, x + _scaleBarLength - thickness, barY - 2 * _fontScale, x + _scaleBarLength, barY + thickness, value);
    }

    private void FillRect(byte[] pixels, int x0, int y0, int x1, int y1, byte value) =>
        BitmapFont.FillRect(pixels, _width, _height, x0, y0, x1, y1, value);

    private void DrawRing(byte[] pixels, double cx, double cy, double r, double thickness, byte value)
    {
        var box = PixelRect.Around(cx, cy, r + thickness).Intersect(new PixelRect(0, 0, _width, _height));
        for (var y = box.Y0; y < box.Y1; y++)
        {
            for (var x = box.X0; x < box.X1; x++)
            {
                var d = Math.Abs(Math.Sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) - r);
                var cover = Math.Clamp(thickness / 2 - d + 0.5, 0, 1);
                if (cover > 0)
                {
                    var i = y * _width + x;
                    pixels[i] = (byte)Math.Round(pixels[i] + (value - pixels[i]) * cover);
                }
            }
        }
    }
}
