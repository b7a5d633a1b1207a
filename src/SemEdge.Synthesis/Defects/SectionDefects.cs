namespace SemEdge.Synthesis.Defects;

/// <summary>
/// Defects as a FIB cross-section shows them: voids, seams and unfilled or missing vias; cracks through a
/// layer or a bump; bridged metal lines; embedded particles; dished metal; delaminated interfaces.
/// </summary>
internal static class SectionDefects
{
    public static void Paint(string className, Scene scene, CrossSection s, SynthRandom rng, double scale)
    {
        switch (className)
        {
            case SemClasses.Clean:
                break;
            case SemClasses.Vias:
                Via(scene, s, rng, scale);
                break;
            case SemClasses.Crack:
                Crack(scene, s, rng, scale);
                break;
            case SemClasses.Bridge:
                Bridge(scene, s, rng);
                break;
            case SemClasses.Cmp:
                Dishing(scene, s, rng, scale);
                break;
            case SemClasses.Other:
                Delamination(scene, s, rng, scale);
                break;
            case SemClasses.Particle:
                Particle(scene, s, rng, scale);
                break;
            default:
                throw new InvalidOperationException($"no cross-section form for '{className}' defects");
        }
    }

    private static T PickInLive<T>(Scene scene, SynthRandom rng, List<T> items, Func<T, (double X, double Y)> at)
    {
        if (items.Count == 0)
        {
            throw new DefectNotPlacedException("the cross-section lacks the structure this defect needs");
        }
        var inside = items.Where(i => DefectSites.Inside(scene, at(i).X, at(i).Y, 4)).ToList();
        var pool = inside.Count > 0 ? inside : items;
        return DefectSites.NearestToReviewPoint(scene, rng, pool, at);
    }

    private static void Via(Scene scene, CrossSection s, SynthRandom rng, double scale)
    {
        var v = PickInLive(scene, rng, s.Vias, r => (r.CenterX, r.CenterY));
        var live = scene.LiveArea;
        switch (rng.Pick([0.4, 0.2, 0.2, 0.2]))
        {
            case 0:
                // Void: a dark pocket inside the fill, rimmed bright by the edge effect; a large one fills half the via.
                var large = scale * 512.0 / Math.Min(scene.Width, scene.Height) > 1.5;
                var rx = v.Width * (large ? rng.Uniform(0.3, 0.45) : rng.Uniform(0.15, 0.4));
                var ry = Math.Min(v.Height * (large ? 0.5 : 0.4), rx * rng.Uniform(1, 3));
                var cy = Math.Min(v.Y0 + v.Height * rng.Uniform(0.3, 0.8), live.Y1 - ry - 2);
                s.FillEllipse(v.CenterX + rng.Uniform(-0.15, 0.15) * v.Width, cy, Math.Max(1.5 * scale, rx), Math.Max(1.5 * scale, ry), s.Void);
                break;
            case 1:
                // Seam: a thin dark line down the middle where the fill closed without merging.
                var seam = new SectionRect(v.CenterX - Math.Max(0.8, 1.2 * scale), v.Y0 + v.Height * rng.Uniform(0.1, 0.4),
                    v.CenterX + Math.Max(0.8, 1.2 * scale), Math.Min(v.Y1 - v.Height * 0.1, live.Y1));
                s.FillRect(seam, s.Void);
                break;
            case 2:
                // Unfilled: the upper part of the via stayed empty.
                var fill = rng.Uniform(0.3, 0.8);
                s.FillRect(new SectionRect(v.X0 + 0.5, v.Y0, v.X1 - 0.5, Math.Min(v.Y0 + v.Height * fill, live.Y1)), s.Void, v.Width * 0.05);
                break;
            default:
                // Missing or pinched: the via is gone, or necked to a sliver.
                if (rng.Chance(0.5))
                {
                    s.FillRect(new SectionRect(v.X0 - 1, v.Y0 + 1, v.X1 + 1, Math.Min(v.Y1 - 1, live.Y1)), s.Dielectric);
                }
                else
                {
                    var pinch = v.Width * rng.Uniform(0.25, 0.4);
                    var y0 = v.Y0 + v.Height * rng.Uniform(0.2, 0.5);
                    var y1 = Math.Min(y0 + v.Height * rng.Uniform(0.15, 0.35), live.Y1);
                    s.FillRect(new SectionRect(v.X0 - 1, y0, v.X0 + pinch, y1), s.Dielectric);
                    s.FillRect(new SectionRect(v.X1 - pinch, y0, v.X1 + 1, y1), s.Dielectric);
                }
                break;
        }
    }

    private static void Crack(Scene scene, CrossSection s, SynthRandom rng, double scale)
    {
        var mask = new CoverageMask(scene.Width, scene.Height);
        var live = scene.LiveArea;
        double x, y, heading;
        if (s.Bumps.Count > 0 && rng.Chance(0.7))
        {
            var b = s.Bumps[rng.Next(0, s.Bumps.Count)];
            // Solder fatigue cracks run near the pad, roughly parallel to it.
            x = b.CenterX + rng.Sign() * b.RadiusX * rng.Uniform(0.3, 0.8);
            y = Math.Min(b.BaseY - b.Height * rng.Uniform(0.05, 0.5), live.Y1 - 4);
            heading = x > b.CenterX ? Math.PI + rng.Uniform(-0.4, 0.4) : rng.Uniform(-0.4, 0.4);
        }
        else
        {
            (x, y) = DefectSites.Point(scene, rng, 20 * scale);
            heading = rng.Chance(0.5) ? Math.PI / 2 + rng.Uniform(-0.5, 0.5) : rng.Uniform(-0.6, 0.6) + (rng.Chance(0.5) ? 0 : Math.PI);
        }
        Fractures.CrackPath(mask, rng, live, x, y, heading, rng.LogUniform(40, 260) * scale, rng.LogUniform(1.8, 5) * scale, 0, scale);
        if (mask.Bounds.IsEmpty)
        {
            mask.Capsule(x, Math.Min(y, live.Y1 - 3), x + 6 * scale, Math.Min(y, live.Y1 - 3), 1.5 * scale, 1.5 * scale);
        }
        mask.ForEach((px, py, m) => s.Blend(px, py, s.Void, m));
    }

    private static void Bridge(Scene scene, CrossSection s, SynthRandom rng)
    {
        var a = PickInLive(scene, rng, s.MetalLines, r => (r.CenterX, r.CenterY));
        var b = s.MetalLines.Where(r => r.Y0 == a.Y0 && r.X0 > a.X0).OrderBy(r => r.X0).FirstOrDefault();
        if (b.Width <= 0)
        {
            b = s.MetalLines.Where(r => r.Y0 == a.Y0 && r.X0 < a.X0).OrderByDescending(r => r.X0).FirstOrDefault();
            (a, b) = (b, a);
        }
        var height = a.Height * rng.Uniform(0.5, 1.0);
        var y0 = rng.Chance(0.5) ? a.Y0 : a.Y1 - height;
        var y1 = Math.Min(y0 + height, scene.LiveArea.Y1);
        s.FillRect(new SectionRect(a.X1 - 1, y0, b.X0 + 1, y1), s.Metal);
    }

    private static void Dishing(Scene scene, CrossSection s, SynthRandom rng, double scale)
    {
        var first = PickInLive(scene, rng, s.MetalLines, r => (r.CenterX, r.CenterY));
        var row = s.MetalLines.Where(r => r.Y0 == first.Y0 && Math.Abs(r.CenterX - first.CenterX) < rng.Uniform(1, 4) * (first.Width * 2.5)).ToList();
        var depth = first.Height * rng.Uniform(0.45, 0.85);
        foreach (var r in row)
        {
            var rect = new PixelRect((int)r.X0, (int)r.Y0, (int)Math.Ceiling(r.X1), (int)Math.Ceiling(r.Y0 + depth) + 1).Intersect(scene.LiveArea);
            for (var y = rect.Y0; y < rect.Y1; y++)
            {
                for (var x = rect.X0; x < rect.X1; x++)
                {
                    var t = (x + 0.5 - r.CenterX) / (r.Width / 2);
                    var dish = depth * (1 - t * t);
                    var cover = (float)Math.Clamp(r.Y0 + dish - y + 0.5, 0, 1);
                    s.Blend(x, y, s.Dielectric + 0.05f, cover);
                }
            }
        }
    }

    private static void Delamination(Scene scene, CrossSection s, SynthRandom rng, double scale)
    {
        var live = scene.LiveArea;
        var interfaces = s.Layers.Skip(2).Select(l => l.Y0).Where(y => y > live.Y0 + 6 && y < live.Y1 - 6).ToList();
        if (interfaces.Count == 0 || rng.Chance(0.3))
        {
            // A cluster of small voids (outgassing) instead.
            var (cx, cy) = DefectSites.Point(scene, rng, 30 * scale);
            var n = rng.Next(4, 10);
            for (var i = 0; i < n; i++)
            {
                var r = rng.Uniform(2.5, 8) * scale;
                s.FillEllipse(cx + rng.Uniform(-25, 25) * scale, Math.Min(cy + rng.Uniform(-12, 12) * scale, live.Y1 - r - 1), r, r * rng.Uniform(0.6, 1), s.Void);
            }
            return;
        }
        var y = interfaces[rng.Next(0, interfaces.Count)];
        var length = rng.Uniform(0.15, 0.6) * scene.Width;
        var x0 = rng.Uniform(0, scene.Width - length);
        var gap = rng.Uniform(1.5, 5) * scale;
        var key = rng.NextUInt64();
        var mask = new CoverageMask(scene.Width, scene.Height);
        mask.Paint(new PixelRect((int)x0, (int)(y - gap * 2) - 1, (int)(x0 + length) + 1, (int)(y + gap * 2) + 2).Intersect(live), (px, py) =>
        {
            var t = (px - x0) / length;
            var open = gap * Math.Sin(Math.PI * Math.Clamp(t, 0, 1)) * (0.7 + 0.3 * Noise.Value1(key, 0, px, 12 * scale));
            return (float)Math.Clamp(open / 2 - Math.Abs(py - y) + 0.5, 0, 1);
        });
        mask.ForEach((px, py, m) => s.Blend(px, py, s.Void, m));
    }

    private static void Particle(Scene scene, CrossSection s, SynthRandom rng, double scale)
    {
        var r = rng.LogUniform(3, 22) * scale;
        var (cx, cy) = DefectSites.Point(scene, rng, r + 4);
        var bright = rng.Chance(0.6);
        s.FillEllipse(cx, cy, r * rng.Uniform(1, 1.8), r, bright ? (float)rng.Uniform(0.75, 0.95) : s.Void + 0.05f);
        if (rng.Chance(0.5))
        {
            // The layer grown over it bulges: a thin bright cap arc.
            s.FillEllipse(cx, cy - r * 0.2, r * 1.5, r * 1.25, (float)rng.Uniform(0.45, 0.6));
            s.FillEllipse(cx, cy, r * 1.2, r, bright ? 0.85f : s.Void + 0.05f);
        }
    }
}
