namespace SemEdge.Synthesis.Defects;

/// <summary>Cracks (thin, jagged, branching) and scratches (long streaks across many features).</summary>
internal static class Fractures
{
    public static void Crack(Scene scene, SynthRandom rng, double scale)
    {
        var mask = new CoverageMask(scene.Width, scene.Height);
        var (x, y) = DefectSites.Point(scene, rng, 30 * scale);
        var length = rng.LogUniform(100, 320) * scale;
        // At least ~1.5 px at 128x128 after the 4x area downscale for the wide ones; thin ones stay subtle.
        var width = rng.LogUniform(4, 8) * scale;
        var angle = rng.Uniform(0, 2 * Math.PI);
        var twoSided = rng.Chance(0.5);
        CrackPath(mask, rng, scene.LiveArea, x, y, angle, twoSided ? length / 2 : length, width, 0, scale);
        if (twoSided)
        {
            CrackPath(mask, rng, scene.LiveArea, x, y, angle + Math.PI, length / 2, width, 0, scale);
        }
        var depth = (float)rng.Uniform(0.5, 1.3);
        var dark = (float)rng.Uniform(0.08, 0.25);
        mask.ForEach((px, py, m) =>
        {
            var h = scene.Topography[px, py] - depth * m;
            scene.SetSurface(px, py, h);
            scene.Material[px, py] -= dark * m;
        });
    }

    /// <summary>A jagged random walk that keeps its general heading and now and then splits.</summary>
    internal static void CrackPath(CoverageMask mask, SynthRandom rng, PixelRect area, double x, double y, double heading,
        double length, double width, int generation, double scale)
    {
        var step = 2.5 * scale;
        var steps = (int)(length / step);
        var dir = heading;
        for (var i = 0; i < steps; i++)
        {
            dir += rng.Gaussian() * 0.45 + (heading - dir) * 0.2;
            var nx = x + Math.Cos(dir) * step;
            var ny = y + Math.Sin(dir) * step;
            if (nx < area.X0 || ny < area.Y0 || nx >= area.X1 || ny >= area.Y1)
            {
                return;
            }
            var taper = 1 - 0.75 * i / (double)steps;
            var r0 = Math.Max(0.5, width * taper / 2);
            var r1 = Math.Max(0.5, width * (1 - 0.75 * (i + 1) / (double)steps) / 2);
            mask.Capsule(x, y, nx, ny, r0, r1);
            if (generation < 2 && rng.Chance(0.035))
            {
                var branch = dir + rng.Sign() * rng.Uniform(0.4, 1.1);
                CrackPath(mask, rng, area, nx, ny, branch, (steps - i) * step * rng.Uniform(0.3, 0.7), r0 * 1.4, generation + 1, scale);
            }
            x = nx;
            y = ny;
        }
    }

    public static void Scratch(Scene scene, SynthRandom rng, double scale)
    {
        var area = scene.LiveArea;
        var mask = new CoverageMask(scene.Width, scene.Height);
        var (x, y) = DefectSites.Point(scene, rng, 20 * scale);
        var angle = rng.Uniform(0, Math.PI);
        var length = rng.Uniform(0.45, 1.3) * Math.Max(area.Width, area.Height);
        var curvature = rng.Uniform(-1.2, 1.2) / Math.Max(area.Width, area.Height);
        var width = rng.LogUniform(4.5, 10) * scale;
        var intermittent = rng.Chance(0.4);
        var key = rng.NextUInt64();
        var companions = rng.Chance(0.35) ? rng.Next(1, 4) : 0;
        var offsets = new List<(double Offset, double Width)> { (0, width) };
        for (var c = 0; c < companions; c++)
        {
            offsets.Add((rng.Sign() * rng.Uniform(3, 12) * scale * (c + 1), width * rng.Uniform(0.35, 0.7)));
        }
        var step = 3 * scale;
        var steps = (int)(length / 2 / step);
        // Walk both ways from the chosen point so the streak always crosses the live area there.
        foreach (var (startHeading, bend) in new[] { (angle, curvature), (angle + Math.PI, -curvature) })
        {
            var heading = startHeading;
            var sx = x;
            var sy = y;
            for (var i = 0; i < steps; i++)
            {
                var nx = sx + Math.Cos(heading) * step;
                var ny = sy + Math.Sin(heading) * step;
                var t = i * step * (bend == curvature ? 1 : -1);
                var strength = intermittent ? (float)Math.Clamp(0.6 + 1.6 * Noise.Value1(key, 1, t, 40 * scale), 0.3, 1) : 1f;
                var w = 1 + 0.25 * Noise.Value1(key, 2, t, 25 * scale);
                foreach (var (off, wd) in offsets)
                {
                    var side = bend == curvature ? off : -off;
                    var ox = -Math.Sin(heading) * side;
                    var oy = Math.Cos(heading) * side;
                    mask.Capsule(sx + ox, sy + oy, nx + ox, ny + oy, wd * w / 2, wd * w / 2, strength);
                }
                heading += bend * step;
                sx = nx;
                sy = ny;
            }
        }
        var groove = rng.Chance(0.7);
        var depth = (float)rng.Uniform(0.6, 1.3);
        var tone = (float)(groove ? -rng.Uniform(0.07, 0.2) : rng.Uniform(0.12, 0.28) * rng.Sign());
        var live = scene.LiveArea;
        mask.ForEach((px, py, m) =>
        {
            if (!new PixelRect(px, py, px + 1, py + 1).Intersect(live).IsEmpty)
            {
                var h = scene.Topography[px, py];
                // A groove cuts down; a smear flattens the pattern under a film.
                var nh = groove ? h - depth * m : h + (0.6f - h) * m * 0.7f;
                scene.SetSurface(px, py, nh);
                scene.Material[px, py] += tone * m;
            }
        });
    }
}
