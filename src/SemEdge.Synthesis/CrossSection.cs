namespace SemEdge.Synthesis;

/// <summary>An axis-aligned structure in a cross-section (metal line, via, TSV), in pixels, end-exclusive.</summary>
public readonly record struct SectionRect(double X0, double Y0, double X1, double Y1)
{
    public double Width => X1 - X0;

    public double Height => Y1 - Y0;

    public double CenterX => (X0 + X1) / 2;

    public double CenterY => (Y0 + Y1) / 2;
}

/// <summary>A solder bump: a half-ellipse standing on its pad at <see cref="BaseY"/>.</summary>
public readonly record struct Bump(double CenterX, double BaseY, double RadiusX, double Height);

/// <summary>
/// A FIB-SEM cross-section: the layer stack seen edge-on, with what a defect may sit in. Materials are
/// written through <see cref="Set"/>, which applies the milling curtain so a defect gets it too.
/// </summary>
public sealed class CrossSection(Scene scene, ulong curtainKey, double curtainAmplitude, double curtainScale)
{
    public List<(double Y0, double Y1, float Grey)> Layers { get; } = [];

    public List<SectionRect> MetalLines { get; } = [];

    public List<SectionRect> Vias { get; } = [];

    public List<Bump> Bumps { get; } = [];

    /// <summary>Grey of the dielectric that fills around metal, used when metal goes missing.</summary>
    public float Dielectric { get; set; }

    public float Metal { get; set; }

    /// <summary>Grey of an empty void (vacuum seen inside the section).</summary>
    public float Void { get; set; }

    /// <summary>Milling curtain: vertical streaks from uneven ion-beam milling.</summary>
    public float Curtain(int x, int y) =>
        (float)(1 + curtainAmplitude * Noise.Value1(curtainKey, 0, x, curtainScale) * (0.6 + 0.4 * Noise.Value1(curtainKey, 1, y, 150)));

    /// <summary>
    /// TEM-like contrast (a STEM bright-field or TEM lamella image): mass-thickness contrast, so vacuum and voids
    /// read bright and metal dark, the reverse of the SEM's secondary-electron picture.
    /// </summary>
    public bool TransmissionContrast { get; init; }

    public void Set(int x, int y, float grey)
    {
        if ((uint)x >= (uint)scene.Width || (uint)y >= (uint)scene.Height)
        {
            return;
        }
        var v = grey * Curtain(x, y);
        scene.Material[x, y] = TransmissionContrast ? 0.92f - 0.85f * v : v;
        // Edges in a section come from material boundaries (and the slight relief the mill leaves).
        scene.Topography[x, y] = grey * 1.6f;
    }

    public void Blend(int x, int y, float grey, float coverage)
    {
        if ((uint)x >= (uint)scene.Width || (uint)y >= (uint)scene.Height || coverage <= 0)
        {
            return;
        }
        var current = scene.Topography[x, y] / 1.6f;
        Set(x, y, current + (grey - current) * Math.Min(coverage, 1f));
    }

    /// <summary>The base grey currently at a pixel (before the curtain).</summary>
    public float GreyAt(int x, int y) => scene.Topography[x, y] / 1.6f;

    /// <summary>Fills an anti-aliased rectangle, optionally tapered (narrower at the bottom by taper px per side).</summary>
    public void FillRect(SectionRect r, float grey, double taper = 0)
    {
        var rect = new PixelRect((int)Math.Floor(r.X0 - Math.Abs(taper)) - 1, (int)Math.Floor(r.Y0) - 1,
            (int)Math.Ceiling(r.X1 + Math.Abs(taper)) + 2, (int)Math.Ceiling(r.Y1) + 2).Intersect(scene.Bounds);
        for (var y = rect.Y0; y < rect.Y1; y++)
        {
            var t = r.Height > 0 ? Math.Clamp((y - r.Y0) / r.Height, 0, 1) : 0;
            var x0 = r.X0 + taper * t;
            var x1 = r.X1 - taper * t;
            var cy = Math.Clamp(Math.Min(y + 0.5 - r.Y0, r.Y1 - y - 0.5) + 0.5, 0, 1);
            for (var x = rect.X0; x < rect.X1; x++)
            {
                var cx = Math.Clamp(Math.Min(x + 0.5 - x0, x1 - x - 0.5) + 0.5, 0, 1);
                Blend(x, y, grey, (float)(cx * cy));
            }
        }
    }

    public void FillEllipse(double cx, double cy, double rx, double ry, float grey)
    {
        var rect = PixelRect.Around(cx, cy, Math.Max(rx, ry) + 1).Intersect(scene.Bounds);
        for (var y = rect.Y0; y < rect.Y1; y++)
        {
            for (var x = rect.X0; x < rect.X1; x++)
            {
                var dx = (x - cx) / rx;
                var dy = (y - cy) / ry;
                var d = (1 - Math.Sqrt(dx * dx + dy * dy)) * Math.Min(rx, ry);
                Blend(x, y, grey, (float)Math.Clamp(d + 0.5, 0, 1));
            }
        }
    }
}

/// <summary>Builds FIB-SEM cross-sections: interconnect stacks with lines and vias, TSVs, solder bumps.</summary>
public static class CrossSectionBuilder
{
    /// <summary>Share of cross-sections drawn with TEM-like contrast (bright background, dark features).</summary>
    public const double TransmissionShare = 0.25;

    public static void Build(Scene scene, SynthRandom rng, string className, double scale)
    {
        var w = scene.Width;
        var h = scene.Height;
        var section = new CrossSection(scene, rng.NextUInt64(), rng.Uniform(0.02, 0.1), rng.Uniform(2, 8) * scale)
        {
            Dielectric = (float)rng.Uniform(0.18, 0.35),
            Metal = (float)rng.Uniform(0.62, 0.9),
            Void = (float)rng.Uniform(0.02, 0.1),
            TransmissionContrast = rng.Chance(TransmissionShare),
        };
        scene.CrossSection = section;
        scene.TopGrey = section.Metal;
        scene.FloorGrey = section.Dielectric;
        // What the class needs decides which structures can appear; clean and neutral classes see all.
        var kind = className switch
        {
            SemClasses.Bridge or SemClasses.Cmp => 0,
            SemClasses.Vias => rng.Pick([0.65, 0.35, 0]),
            _ => rng.Pick([0.5, 0.25, 0.25]),
        };
        var minLevels = className == SemClasses.Vias ? 2 : 1;

        // Vacuum (or mounting resin) above, then the protective platinum cap deposited before milling.
        var y = h * rng.Uniform(0, 0.12);
        section.Layers.Add((0, y, (float)rng.Uniform(0.03, 0.12)));
        var cap = h * rng.Uniform(0.03, 0.08);
        section.Layers.Add((y, y + cap, (float)rng.Uniform(0.5, 0.7)));
        y += cap;
        var live = scene.LiveArea.Y1;
        while (y < live)
        {
            var t = h * (rng.Chance(0.3) ? rng.Uniform(0.015, 0.035) : rng.Uniform(0.07, 0.2));
            var grey = (float)(t < h * 0.04 ? rng.Uniform(0.38, 0.55) : section.Dielectric + rng.Uniform(-0.05, 0.08));
            section.Layers.Add((y, Math.Min(y + t, h), grey));
            y += t;
        }
        // The last layer before the bottom is the silicon substrate.
        var substrate = h * rng.Uniform(0.65, 0.85);
        for (var py = 0; py < h; py++)
        {
            var grey = py >= substrate ? 0.33f : section.Layers.LastOrDefault(l => py >= l.Y0 && py < l.Y1).Grey;
            for (var px = 0; px < w; px++)
            {
                section.Set(px, py, grey + 0.03f * Noise.Value2(scene.Key, px, py, 3 * scale));
            }
        }

        var top = section.Layers[1].Y1;
        scene.Layout = kind switch
        {
            0 => SceneLayout.Interconnect,
            1 => SceneLayout.Tsv,
            _ => SceneLayout.Bumps,
        };
        switch (kind)
        {
            case 0:
                Interconnect(section, rng, w, top, substrate, minLevels, scale);
                break;
            case 1:
                Tsvs(section, rng, w, top, substrate, scale);
                break;
            default:
                Bumps(section, rng, w, h, top, substrate, scale);
                break;
        }
    }

    private static void Interconnect(CrossSection s, SynthRandom rng, int w, double top, double bottom, int minLevels, double scale)
    {
        var levels = rng.Next(minLevels, 4);
        var span = bottom - top;
        var pitch = rng.LogUniform(26, 80) * scale;
        var lineHeight = Math.Min(span / (levels * 3.2), rng.Uniform(14, 40) * scale);
        var y = top + span * rng.Uniform(0.05, 0.12);
        SectionRect[]? previous = null;
        for (var level = 0; level < levels && y + lineHeight < bottom; level++)
        {
            var duty = rng.Uniform(0.4, 0.6);
            var phase = rng.Uniform(0, pitch);
            var taper = rng.Uniform(0, 0.2) * lineHeight;
            var row = new List<SectionRect>();
            for (var x = phase - pitch; x < w + pitch; x += pitch)
            {
                var r = new SectionRect(x, y, x + pitch * duty, y + lineHeight);
                s.FillRect(r, s.Metal + (float)rng.Uniform(-0.03, 0.03), taper);
                s.MetalLines.Add(r);
                row.Add(r);
            }
            // Vias drop from the line above into this row where the two overlap.
            if (previous is not null)
            {
                var middle = previous.OrderBy(r => Math.Abs(r.CenterX - w / 2.0)).First();
                foreach (var upper in previous)
                {
                    // At least the line nearest the middle always has its via, so a via level is never empty.
                    if (!rng.Chance(0.6) && upper != middle)
                    {
                        continue;
                    }
                    var vw = Math.Min(upper.Width, rng.Uniform(0.35, 0.7) * upper.Width);
                    var vx = upper.CenterX - vw / 2;
                    var v = new SectionRect(vx, upper.Y1 - 1, vx + vw, y + 1);
                    if (v.Height > 2)
                    {
                        s.FillRect(v, s.Metal, vw * 0.12);
                        s.Vias.Add(v);
                    }
                }
            }
            previous = [.. row];
            y += lineHeight + rng.Uniform(1.0, 1.8) * lineHeight;
            pitch *= rng.Uniform(1.0, 1.6);
        }
    }

    private static void Tsvs(CrossSection s, SynthRandom rng, int w, double top, double bottom, double scale)
    {
        var count = rng.Next(1, 4);
        var width = Math.Min(rng.Uniform(30, 90) * scale, 0.8 * w / count);
        var gap = (w - count * width) / (count + 1);
        var depth = (bottom - top) * rng.Uniform(0.7, 1.2);
        var liner = rng.Uniform(1.5, 3.5) * scale;
        for (var i = 0; i < count; i++)
        {
            var x = gap * (i + 1) + width * i + rng.Uniform(-0.2, 0.2) * gap;
            var r = new SectionRect(x, top, x + width, top + depth);
            s.FillRect(new SectionRect(r.X0 - liner, r.Y0, r.X1 + liner, r.Y1 + liner), (float)rng.Uniform(0.45, 0.6), width * 0.05);
            s.FillRect(r, s.Metal, width * 0.05);
            s.Vias.Add(r);
        }
    }

    private static void Bumps(CrossSection s, SynthRandom rng, int w, int h, double top, double bottom, double scale)
    {
        var count = rng.Chance(0.6) ? 1 : 2;
        var rx = rng.Uniform(0.25, 0.42) * w / count;
        var height = Math.Min(rng.Uniform(0.8, 1.3) * rx, (bottom - top) * 0.9);
        var baseY = top + height + rng.Uniform(0.02, 0.08) * h;
        var solder = (float)rng.Uniform(0.6, 0.85);
        var grainKey = rng.NextUInt64();
        for (var i = 0; i < count; i++)
        {
            var cx = w * (i + 0.5) / count + rng.Uniform(-0.05, 0.05) * w;
            // Under-bump metallisation and pad, then the dome.
            s.FillRect(new SectionRect(cx - rx * 0.75, baseY, cx + rx * 0.75, baseY + 6 * scale), (float)rng.Uniform(0.5, 0.7));
            var rect = PixelRect.Around(cx, baseY - height / 2, Math.Max(rx, height) + 2);
            for (var y = Math.Max(rect.Y0, 0); y < Math.Min(rect.Y1, (int)Math.Ceiling(baseY)); y++)
            {
                for (var x = Math.Max(rect.X0, 0); x < Math.Min(rect.X1, w); x++)
                {
                    var dx = (x - cx) / rx;
                    var dy = (baseY - y) / height;
                    var d = (1 - Math.Sqrt(dx * dx + dy * dy)) * Math.Min(rx, height);
                    var grain = 0.06f * Noise.Value2(grainKey, x, y, 9 * scale);
                    s.Blend(x, y, solder + grain, (float)Math.Clamp(d + 0.5, 0, 1));
                }
            }
            s.Bumps.Add(new Bump(cx, baseY, rx, height));
        }
    }
}
