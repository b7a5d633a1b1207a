namespace SemEdge.Synthesis;

/// <summary>
/// Stateless hash noise. Pure functions of (key, coordinates), so a region can be re-evaluated (e.g. when
/// a defect re-draws a few lines) and match the rest of the image exactly.
/// </summary>
public static class Noise
{
    /// <summary>Hash of a key and two integers to [-1, 1].</summary>
    public static float Hash(ulong key, int a, int b)
    {
        var h = SynthRandom.Mix(key ^ ((ulong)(uint)a * 0x9E3779B97F4A7C15UL) ^ ((ulong)(uint)b * 0xC2B2AE3D27D4EB4FUL));
        return (float)((h >> 40) * (2.0 / (1UL << 24)) - 1.0);
    }

    private static float Smooth(float t) => t * t * (3 - 2 * t);

    /// <summary>1-D value noise in [-1, 1] with feature length <paramref name="scale"/>.</summary>
    public static float Value1(ulong key, int channel, double t, double scale)
    {
        var p = t / scale;
        var i = (int)Math.Floor(p);
        var f = Smooth((float)(p - i));
        var a = Hash(key, channel, i);
        var b = Hash(key, channel, i + 1);
        return a + (b - a) * f;
    }

    /// <summary>1-D fractal noise: a few octaves, roughly [-1, 1].</summary>
    public static float Fbm1(ulong key, int channel, double t, double scale, int octaves = 3)
    {
        var sum = 0f;
        var amp = 1f;
        var norm = 0f;
        for (var o = 0; o < octaves; o++)
        {
            sum += amp * Value1(key + (ulong)o * 7919UL, channel, t, scale);
            norm += amp;
            amp *= 0.5f;
            scale *= 0.5;
        }
        return sum / norm;
    }

    /// <summary>2-D value noise in [-1, 1] with feature size <paramref name="scale"/>.</summary>
    public static float Value2(ulong key, double x, double y, double scale)
    {
        var px = x / scale;
        var py = y / scale;
        var ix = (int)Math.Floor(px);
        var iy = (int)Math.Floor(py);
        var fx = Smooth((float)(px - ix));
        var fy = Smooth((float)(py - iy));
        var a = Hash(key, ix, iy);
        var b = Hash(key, ix + 1, iy);
        var c = Hash(key, ix, iy + 1);
        var d = Hash(key, ix + 1, iy + 1);
        var top = a + (b - a) * fx;
        var bottom = c + (d - c) * fx;
        return top + (bottom - top) * fy;
    }

    public static float Fbm2(ulong key, double x, double y, double scale, int octaves = 4)
    {
        var sum = 0f;
        var amp = 1f;
        var norm = 0f;
        for (var o = 0; o < octaves; o++)
        {
            sum += amp * Value2(key + (ulong)o * 104729UL, x, y, scale);
            norm += amp;
            amp *= 0.5f;
            scale *= 0.5;
        }
        return sum / norm;
    }

    /// <summary>A low-resolution noise field, bilinearly upsampled: cheap broad patterns for a whole image.</summary>
    public static FloatImage Field(ulong key, int width, int height, double scale, int octaves)
    {
        var img = new FloatImage(width, height);
        // Evaluate on a coarse grid (every 4 px) then interpolate; broad fields need no more.
        const int Step = 4;
        var gw = width / Step + 2;
        var gh = height / Step + 2;
        var grid = new float[gw * gh];
        for (var gy = 0; gy < gh; gy++)
        {
            for (var gx = 0; gx < gw; gx++)
            {
                grid[gy * gw + gx] = Fbm2(key, gx * Step, gy * Step, scale, octaves);
            }
        }
        for (var y = 0; y < height; y++)
        {
            var gy = y / Step;
            var fy = (y - gy * Step) / (float)Step;
            for (var x = 0; x < width; x++)
            {
                var gx = x / Step;
                var fx = (x - gx * Step) / (float)Step;
                var a = grid[gy * gw + gx];
                var b = grid[gy * gw + gx + 1];
                var c = grid[(gy + 1) * gw + gx];
                var d = grid[(gy + 1) * gw + gx + 1];
                img.Data[y * width + x] = (a + (b - a) * fx) * (1 - fy) + (c + (d - c) * fx) * fy;
            }
        }
        return img;
    }
}
