namespace SemEdge.Synthesis.Defects;

/// <summary>
/// Anomalies outside the named classes: pattern collapse (features toppled and smeared into each other),
/// film peeling (a lifted sheet with a curled bright rim) and stains (water marks with a sharp ring).
/// </summary>
internal static class Anomalies
{
    public static void Paint(Scene scene, SynthRandom rng, double scale)
    {
        // A bare film has no pattern to collapse.
        var patterned = scene.Gratings.Count + scene.ContactArrays.Count > 0;
        switch (rng.Pick([patterned ? 0.4 : 0, 0.3, 0.3]))
        {
            case 0:
                Collapse(scene, rng, scale);
                break;
            case 1:
                Peeling(scene, rng, scale);
                break;
            default:
                Stain(scene, rng, scale);
                break;
        }
    }

    /// <summary>The layout re-drawn through a strong local warp: features lean, bend and touch.</summary>
    private static void Collapse(Scene scene, SynthRandom rng, double scale)
    {
        var radius = DefectSites.FitInFrame(scene, rng.LogUniform(30, 130) * scale);
        var (cx, cy) = DefectSites.Point(scene, rng, radius * 0.6);
        var strength = rng.Uniform(7, 14) * scale;
        var waveScale = rng.Uniform(8, 30) * scale;
        var key = rng.NextUInt64();
        var rect = PixelRect.Around(cx, cy, radius).Intersect(scene.LiveArea);
        for (var y = rect.Y0; y < rect.Y1; y++)
        {
            for (var x = rect.X0; x < rect.X1; x++)
            {
                var d = Math.Sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) / radius;
                if (d >= 1)
                {
                    continue;
                }
                var w = (1 - d * d) * (1 - d * d);
                var ox = strength * w * Noise.Fbm2(key, x, y, waveScale, 2);
                var oy = strength * w * Noise.Fbm2(key ^ 0xABCDEFUL, x, y, waveScale, 2);
                scene.SetSurface(x, y, SceneBuilder.LayoutHeight(scene, x + ox, y + oy));
            }
        }
    }

    /// <summary>A lifted film: flat sheet over the pattern, a curled bright rim, a torn edge.</summary>
    private static void Peeling(Scene scene, SynthRandom rng, double scale)
    {
        var radius = DefectSites.FitInFrame(scene, rng.LogUniform(30, 150) * scale);
        var (cx, cy) = DefectSites.Point(scene, rng, radius * 0.5);
        var key = rng.NextUInt64();
        var lift = (float)rng.Uniform(1.1, 1.5);
        var tone = (float)(rng.Uniform(0.06, 0.16) * rng.Sign());
        var rimWidth = rng.Uniform(1.5, 5) * scale;
        var ragged = rng.Uniform(0.2, 0.5);
        var rect = PixelRect.Around(cx, cy, radius * (1 + ragged) + rimWidth + 2).Intersect(scene.LiveArea);
        for (var y = rect.Y0; y < rect.Y1; y++)
        {
            for (var x = rect.X0; x < rect.X1; x++)
            {
                var dx = x - cx;
                var dy = y - cy;
                var dist = Math.Sqrt(dx * dx + dy * dy);
                var rr = radius * (1 + ragged * Noise.Fbm2(key, x, y, radius * 0.4, 3));
                var inside = rr - dist;
                if (inside < -rimWidth)
                {
                    continue;
                }
                var cover = (float)Math.Clamp(inside + 0.5, 0, 1);
                var rim = (float)Math.Max(0, 1 - Math.Abs(inside) / rimWidth);
                var h = scene.Topography[x, y];
                var sheet = lift + 0.05f * Noise.Value2(key, x, y, 6 * scale);
                scene.SetSurface(x, y, h + (sheet - h) * cover + 0.6f * rim);
                scene.Material[x, y] += tone * cover + 0.15f * rim;
            }
        }
    }

    /// <summary>A water mark: a darker (or brighter) deposit with a sharp outer ring, pattern still visible.</summary>
    private static void Stain(Scene scene, SynthRandom rng, double scale)
    {
        var radius = DefectSites.FitInFrame(scene, rng.LogUniform(25, 140) * scale);
        var (cx, cy) = DefectSites.Point(scene, rng, radius * 0.5);
        var key = rng.NextUInt64();
        var tone = (float)(rng.Uniform(0.12, 0.3) * (rng.Chance(0.7) ? -1 : 1));
        var ring = rng.Uniform(1.5, 6) * scale;
        var aspect = rng.Uniform(0.6, 1);
        var rect = PixelRect.Around(cx, cy, radius * 1.3 + ring + 2).Intersect(scene.LiveArea);
        for (var y = rect.Y0; y < rect.Y1; y++)
        {
            for (var x = rect.X0; x < rect.X1; x++)
            {
                var dx = x - cx;
                var dy = (y - cy) / aspect;
                var dist = Math.Sqrt(dx * dx + dy * dy);
                var rr = radius * (1 + 0.25 * Noise.Fbm2(key, x, y, radius * 0.6, 2));
                var inside = rr - dist;
                if (inside < -ring)
                {
                    continue;
                }
                var body = (float)Math.Clamp(inside / (radius * 0.6), 0, 1);
                var edge = (float)Math.Max(0, 1 - Math.Abs(inside) / ring);
                var blot = 0.55f + 0.3f * Noise.Value2(key ^ 0x77UL, x, y, 10 * scale);
                scene.Material[x, y] += tone * (blot * body + 1.3f * edge);
            }
        }
    }
}
