namespace SemEdge.Synthesis.Defects;

/// <summary>Defects of line/space gratings: bridges between lines, opens in a line, strong edge roughness.</summary>
internal static class LineDefects
{
    /// <summary>Material joining adjacent lines: full or partial height, straight or necked, one or two spaces.</summary>
    public static void Bridge(Scene scene, SynthRandom rng, double scale)
    {
        var site = DefectPainter.RequireLine(scene, rng, 24 * scale);
        var g = site.Grating;
        var spaces = rng.Chance(0.15) ? 2 : 1;
        var dir = rng.Sign();
        var u0 = g.LineCenter(site.Line);
        var u1 = g.LineCenter(site.Line + dir * spaces);
        var (ua, ub) = (Math.Min(u0, u1), Math.Max(u0, u1));
        var halfLength = Math.Max(12 * scale, rng.LogUniform(0.5, 1.6) * Math.Max(g.Gap, 4 * scale) * 0.5 + rng.Uniform(0, 3) * scale);
        var neck = rng.Chance(0.4) ? rng.Uniform(0.3, 0.7) : 0;
        var height = (float)(rng.Chance(0.3) ? rng.Uniform(0.5, 0.75) : rng.Uniform(0.8, 1.0));
        var wobble = rng.Uniform(0, 0.35);
        // The bridge's own contrast: a thin neck of material charges and glows at its edges, so a bridge reads even
        // on a grating whose lines and spaces are nearly the same grey (mostly brighter, sometimes darker).
        var glow = (float)(rng.Uniform(0.07, 0.2) * (rng.Chance(0.8) ? 1 : -1));
        var key = rng.NextUInt64();
        var reach = (ub - ua) / 2 + halfLength * 2 + 4;
        var cu = (ua + ub) / 2;
        var (cx, cy) = g.ToImage(cu, site.V);
        var mask = new CoverageMask(scene.Width, scene.Height);
        mask.Paint(PixelRect.Around(cx, cy, reach).Intersect(scene.LiveArea), (x, y) =>
        {
            var (u, v) = g.ToLocal(x, y);
            var t = (u - ua) / (ub - ua);
            if (t < -0.2 || t > 1.2)
            {
                return 0;
            }
            var hl = halfLength * (1 - neck * Math.Sin(Math.PI * Math.Clamp(t, 0, 1))) * (1 + wobble * Noise.Value1(key, 0, u, 3 * scale));
            var du = Math.Max(ua - u, u - ub);
            return (float)Math.Clamp(Math.Min(hl - Math.Abs(v - site.V), -du + g.HalfWidth) + 0.5, 0, 1);
        });
        mask.ForEach((x, y, m) =>
        {
            var h = scene.Topography[x, y];
            if (height > h)
            {
                scene.SetSurface(x, y, h + (height - h) * m);
                scene.Material[x, y] += glow * m * (height - h);
            }
        });
    }

    /// <summary>A break in a line (full or with residue at the bottom) or a pinched, necked line.</summary>
    public static void Open(Scene scene, SynthRandom rng, double scale)
    {
        var site = DefectPainter.RequireLine(scene, rng, 24 * scale);
        var g = site.Grating;
        var uc = g.LineCenter(site.Line);
        var (cx, cy) = g.ToImage(uc, site.V);
        var key = rng.NextUInt64();
        var mask = new CoverageMask(scene.Width, scene.Height);
        if (rng.Chance(0.7))
        {
            var halfLength = Math.Max(8 * scale, rng.LogUniform(0.7, 2.0) * g.HalfWidth);
            var tilt = rng.Uniform(-0.5, 0.5);
            var residue = (float)(rng.Chance(0.3) ? rng.Uniform(0.2, 0.5) : 0);
            mask.Paint(PixelRect.Around(cx, cy, g.HalfWidth * 2 + halfLength + 6).Intersect(scene.LiveArea), (x, y) =>
            {
                var (u, v) = g.ToLocal(x, y);
                var du = u - uc;
                if (Math.Abs(du) > g.HalfWidth + 3 * scale + 2)
                {
                    return 0;
                }
                var rough = 0.8 * scale * Noise.Value1(key, v > site.V ? 1 : 0, u, 2 * scale);
                var dv = Math.Abs(v - site.V - tilt * du);
                return (float)Math.Clamp(halfLength + rough - dv + 0.5, 0, 1);
            });
            mask.ForEach((x, y, m) =>
            {
                var h = scene.Topography[x, y];
                if (h > residue)
                {
                    scene.SetSurface(x, y, h + (residue - h) * m);
                }
            });
            return;
        }

        // Necking: the line narrows to a sliver over a short stretch.
        var depth = rng.Uniform(0.7, 0.95);
        var sigma = Math.Max(5 * scale, rng.Uniform(0.6, 2.5) * g.HalfWidth);
        var shift = rng.Uniform(-0.5, 0.5) * g.HalfWidth;
        mask.Paint(PixelRect.Around(cx, cy, Math.Max(3 * sigma, g.HalfWidth * 2) + 4).Intersect(scene.LiveArea), (x, y) =>
        {
            var (u, v) = g.ToLocal(x, y);
            var bump = Math.Exp(-Math.Pow((v - site.V) / sigma, 2));
            if (bump < 1e-3)
            {
                return 0;
            }
            var hw = g.HalfWidth * (1 - depth * bump) + 3 * scale * (1 - bump);
            var keep = Math.Clamp(hw - Math.Abs(u - uc - shift * bump) + 0.5, 0, 1);
            var onLine = Math.Abs(u - uc) < g.HalfWidth + 3 * scale;
            return onLine ? (float)(1 - keep) : 0;
        });
        mask.ForEach((x, y, m) =>
        {
            var h = scene.Topography[x, y];
            scene.SetSurface(x, y, h * (1 - m));
        });
    }

    /// <summary>Strong line-edge roughness over a stretch of one or more lines, re-drawn from the layout.</summary>
    public static void Roughness(Scene scene, SynthRandom rng, double scale)
    {
        var length = rng.LogUniform(90, 320) * scale;
        var site = DefectPainter.RequireLine(scene, rng, Math.Max(30 * scale, length / 2));
        var g = site.Grating;
        var lines = rng.Chance(0.25) ? 1 : rng.Next(2, 7);
        var first = site.Line - rng.Next(0, lines);
        var last = first + lines - 1;
        // Keep the stretch in the frame so the roughness is seen, not drawn under the data bar or off-image.
        for (var i = 0; i < 12; i++)
        {
            var (ax, ay) = g.ToImage(g.LineCenter(site.Line), site.V - length / 2);
            var (bx, by) = g.ToImage(g.LineCenter(site.Line), site.V + length / 2);
            if (DefectSites.Inside(scene, ax, ay, 2) && DefectSites.Inside(scene, bx, by, 2))
            {
                break;
            }
            length = Math.Max(24 * scale, length * 0.8);
        }
        // Scaled to the pitch so it reads at 128x128 on fine gratings without turning every line into a bridge.
        var amplitude = Math.Clamp(rng.Uniform(0.3, 0.45) * g.Pitch, 6.5 * scale, 12 * scale);
        var rough = new EdgeRoughening(rng.NextUInt64(), amplitude, rng.Uniform(2.5, 9) * scale, first, last,
            site.V - length / 2, site.V + length / 2);
        var change = new LayoutOverride { Grating = g, Roughening = rough };
        // The stretch's corners in image space bound everything that can change.
        var ua = g.LineCenter(first) - g.Pitch;
        var ub = g.LineCenter(last) + g.Pitch;
        var corners = new[] { g.ToImage(ua, rough.V0), g.ToImage(ua, rough.V1), g.ToImage(ub, rough.V0), g.ToImage(ub, rough.V1) };
        var rect = new PixelRect(
            (int)Math.Floor(corners.Min(c => c.X)) - 2, (int)Math.Floor(corners.Min(c => c.Y)) - 2,
            (int)Math.Ceiling(corners.Max(c => c.X)) + 3, (int)Math.Ceiling(corners.Max(c => c.Y)) + 3).Intersect(scene.LiveArea);
        for (var y = rect.Y0; y < rect.Y1; y++)
        {
            for (var x = rect.X0; x < rect.X1; x++)
            {
                scene.SetSurface(x, y, SceneBuilder.LayoutHeight(scene, x, y, change));
            }
        }
    }
}
