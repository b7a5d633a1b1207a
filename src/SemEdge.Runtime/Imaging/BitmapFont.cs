namespace SemEdge.Imaging;

/// <summary>
/// A built-in 5x7 pixel font (upper case, digits, a few symbols) so SEM data-bar text renders the same on
/// every machine, with no system fonts involved. Each glyph is five column bytes, bit 0 the top row.
/// </summary>
public static class BitmapFont
{
    public const int GlyphWidth = 5;
    public const int GlyphHeight = 7;
    public const int Advance = 6;

    private static readonly Dictionary<char, ulong> Glyphs = new()
    {
        [' '] = 0x0000000000,
        ['0'] = 0x3E5149453E,
        ['1'] = 0x00427F4000,
        ['2'] = 0x4261514946,
        ['3'] = 0x2141454B31,
        ['4'] = 0x1814127F10,
        ['5'] = 0x2745454539,
        ['6'] = 0x3C4A494930,
        ['7'] = 0x0171090503,
        ['8'] = 0x3649494936,
        ['9'] = 0x064949291E,
        ['A'] = 0x7E1111117E,
        ['B'] = 0x7F49494936,
        ['C'] = 0x3E41414122,
        ['D'] = 0x7F4141221C,
        ['E'] = 0x7F49494941,
        ['F'] = 0x7F09090901,
        ['G'] = 0x3E4149497A,
        ['H'] = 0x7F0808087F,
        ['I'] = 0x00417F4100,
        ['J'] = 0x2040413F01,
        ['K'] = 0x7F08142241,
        ['L'] = 0x7F40404040,
        ['M'] = 0x7F020C027F,
        ['N'] = 0x7F0408107F,
        ['O'] = 0x3E4141413E,
        ['P'] = 0x7F09090906,
        ['Q'] = 0x3E4151215E,
        ['R'] = 0x7F09192946,
        ['S'] = 0x4649494931,
        ['T'] = 0x01017F0101,
        ['U'] = 0x3F4040403F,
        ['V'] = 0x1F2040201F,
        ['W'] = 0x3F4038403F,
        ['X'] = 0x6314081463,
        ['Y'] = 0x0708700807,
        ['Z'] = 0x6151494543,
        ['k'] = 0x7F10284400,
        ['m'] = 0x7C04180478,
        ['n'] = 0x7C08040478,
        ['u'] = 0x3C4040207C,
        ['x'] = 0x4428102844,
        ['.'] = 0x0060600000,
        [','] = 0x0050300000,
        [':'] = 0x0036360000,
        ['-'] = 0x0808080808,
        ['+'] = 0x08083E0808,
        ['/'] = 0x2010080402,
        ['='] = 0x1414141414,
        ['%'] = 0x2313086462,
        ['#'] = 0x147F147F14,
        ['_'] = 0x4040404040,
        ['('] = 0x001C224100,
        [')'] = 0x0041221C00,
    };

    /// <summary>Whether a glyph is set at column cx, row cy; unknown characters print as a box.</summary>
    public static bool IsSet(char c, int cx, int cy)
    {
        if (!Glyphs.TryGetValue(c, out var bits))
        {
            if (!Glyphs.TryGetValue(char.ToUpperInvariant(c), out bits))
            {
                return cx == 0 || cx == GlyphWidth - 1 || cy == 0 || cy == GlyphHeight - 1;
            }
        }
        var column = (int)((bits >> (8 * (GlyphWidth - 1 - cx))) & 0xFF);
        return ((column >> cy) & 1) == 1;
    }

    public static int MeasureWidth(string text, int scale) => text.Length == 0 ? 0 : (text.Length * Advance - 1) * scale;

    /// <summary>Fills a rectangle (end-exclusive) of an 8-bit image, clipped to the image.</summary>
    public static void FillRect(byte[] pixels, int width, int height, int x0, int y0, int x1, int y1, byte value)
    {
        x0 = Math.Max(x0, 0);
        y0 = Math.Max(y0, 0);
        x1 = Math.Min(x1, width);
        y1 = Math.Min(y1, height);
        for (var y = y0; y < y1; y++)
        {
            pixels.AsSpan(y * width + x0, Math.Max(0, x1 - x0)).Fill(value);
        }
    }

    /// <summary>Draws text into an 8-bit image; pixels outside the image are skipped.</summary>
    public static void Draw(byte[] pixels, int width, int height, int x, int y, string text, int scale, byte value)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var gx = x + i * Advance * scale;
            for (var cx = 0; cx < GlyphWidth; cx++)
            {
                for (var cy = 0; cy < GlyphHeight; cy++)
                {
                    if (!IsSet(text[i], cx, cy))
                    {
                        continue;
                    }
                    for (var sy = 0; sy < scale; sy++)
                    {
                        var py = y + cy * scale + sy;
                        if ((uint)py >= (uint)height)
                        {
                            continue;
                        }
                        for (var sx = 0; sx < scale; sx++)
                        {
                            var px = gx + cx * scale + sx;
                            if ((uint)px < (uint)width)
                            {
                                pixels[py * width + px] = value;
                            }
                        }
                    }
                }
            }
        }
    }
}
