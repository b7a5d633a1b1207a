namespace SemEdge.Synthesis.Defects;

/// <summary>Particles sitting on the surface: a bright (sometimes dark-cored) blob with halo and shadow.</summary>
internal static class Particles
{
    public static void Paint(Scene scene, SynthRandom rng, double scale)
    {
        var radius = rng.LogUniform(9, 40) * scale;
        var (x, y) = DefectSites.Point(scene, rng, radius * 2 + 6 * scale);
        Blob(scene, rng, x, y, radius, scale);
        if (rng.Chance(0.2))
        {
            var extra = rng.Next(1, 5);
            for (var i = 0; i < extra; i++)
            {
                var r = radius * rng.Uniform(0.2, 0.6);
                var a = rng.Uniform(0, 2 * Math.PI);
                var d = radius * rng.Uniform(1.5, 4);
                var (px, py) = (x + Math.Cos(a) * d, y + Math.Sin(a) * d);
                if (DefectSites.Inside(scene, px, py, r * 2 + 2))
                {
                    Blob(scene, rng, px, py, Math.Max(1.6 * scale, r), scale);
                }
            }
        }
    }

    private static void Blob(Scene scene, SynthRandom rng, double cx, double cy, double radius, double scale)
    {
        var key = rng.NextUInt64();
        var irregular = rng.Uniform(0.05, 0.35);
        var height = (float)rng.Uniform(1.3, 2.6);
        var darkCore = rng.Chance(0.2);
        var body = (float)(darkCore ? scene.FloorGrey - rng.Uniform(0, 0.1) : Math.Max(scene.TopGrey, scene.FloorGrey) + rng.Uniform(0.06, 0.45));
        var haloRadius = rng.Uniform(1.3, 2.2);
        var halo = (float)(rng.Chance(0.6) ? rng.Uniform(0.04, 0.18) : 0);
        var lightAngle = rng.Uniform(0, 2 * Math.PI);
        var (lx, ly) = (Math.Cos(lightAngle), Math.Sin(lightAngle));
        var shadow = (float)(rng.Chance(0.6) ? rng.Uniform(0.05, 0.2) : 0);
        var reach = radius * (1 + irregular) * Math.Max(haloRadius, 1.6) + 3;
        var rect = PixelRect.Around(cx, cy, reach).Intersect(scene.LiveArea);
        for (var y = rect.Y0; y < rect.Y1; y++)
        {
            for (var x = rect.X0; x < rect.X1; x++)
            {
                var dx = x - cx;
                var dy = y - cy;
                var dist = Math.Sqrt(dx * dx + dy * dy);
                var ux = dist > 0 ? dx / dist : 0;
                var uy = dist > 0 ? dy / dist : 0;
                // Outline noise on the unit circle, so it has no seam.
                var rr = radius * (1 + irregular * Noise.Fbm2(key, ux * 3 + 10, uy * 3 + 10, 1.5, 2));
                var cover = (float)Math.Clamp(rr - dist + 0.5, 0, 1);
                var d = dist / rr;
                var h = scene.Topography[x, y];
                var m = scene.Material[x, y];
                if (cover > 0)
                {
                    var profile = (float)Math.Sqrt(Math.Max(0, 1 - d * d));
                    var top = Math.Max(h, 1) + (height - 1) * profile;
                    var shade = (float)(0.12 * (ux * lx + uy * ly) * d);
                    var rim = darkCore ? (float)(0.25 * Math.Pow(Math.Min(d, 1), 6)) : 0;
                    scene.Topography[x, y] = h + (top - h) * cover;
                    scene.Material[x, y] = m + (body + shade + rim - m) * cover;
                }
                else if (d < haloRadius)
                {
                    var f = (float)Math.Pow(1 - (d - 1) / (haloRadius - 1), 2);
                    // Shadow on the side away from the detector, halo all round.
                    var away = (float)Math.Max(0, -(ux * lx + uy * ly));
                    scene.Material[x, y] = m + halo * f - shadow * f * away;
                }
            }
        }
    }
}
