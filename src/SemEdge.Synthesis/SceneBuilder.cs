namespace SemEdge.Synthesis;

/// <summary>A temporary change to how the layout is drawn, used by defects that re-draw a region.</summary>
public sealed record LayoutOverride
{
    public Grating? Grating { get; init; }

    public EdgeRoughening? Roughening { get; init; }

    public ContactArray? Array { get; init; }

    public IReadOnlySet<(int Row, int Column)>? SkipContacts { get; init; }

    /// <summary>Extra openings (signed distance in px, positive inside) drawn into <see cref="Array"/>.</summary>
    public Func<double, double, double>? ExtraOpening { get; init; }
}

/// <summary>What a scene shows: one of the top-down (or tilted) layouts, or one of the cross-section structures.</summary>
public enum SceneLayout
{
    Grating,
    Contacts,
    TwoGratings,
    GratingAndContacts,

    /// <summary>An unpatterned film or polished surface: smooth, or polycrystalline with visible grains.</summary>
    Film,

    /// <summary>Cross-section: an interconnect stack of lines and vias.</summary>
    Interconnect,

    /// <summary>Cross-section: through-silicon vias.</summary>
    Tsv,

    /// <summary>Cross-section: solder bumps on their pads.</summary>
    Bumps,
}

/// <summary>
/// Lays out the wafer pattern for one image from the scene stream: which view, which structures
/// (gratings, contact arrays, mixed fields, cross-section stacks), and their pitch, duty, orientation and
/// grey levels. The class only steers which layouts can carry the defect (a bridge needs lines, a via
/// defect needs contacts); every layout also appears with clean and with class-neutral defects.
/// </summary>
public static class SceneBuilder
{
    public static Scene Build(SynthRandom rng, string className, int width, int height, PixelRect liveArea, SynthesisSettings settings)
    {
        var magnification = rng.LogUniform(settings.Magnification.Min, settings.Magnification.Max);
        // Pattern lengths grow with magnification; beam, grain and noise stay the size of a pixel.
        var scale = Math.Min(width, height) / 512.0 * magnification;
        var view = PickView(rng, className);
        var scene = new Scene(width, height, view, liveArea, rng.NextUInt64()) { Magnification = magnification };
        if (view == SemView.CrossSection)
        {
            CrossSectionBuilder.Build(scene, rng, className, scale);
            return scene;
        }
        var top = rng.Uniform(0.3, 0.62);
        var floor = rng.Uniform(0.12, 0.45);
        if (Math.Abs(top - floor) < 0.08)
        {
            floor = top - 0.1;
        }
        scene.TopGrey = (float)top;
        scene.FloorGrey = (float)floor;
        scene.Grain = (float)rng.Uniform(0, 0.06);

        var tiltSquash = view == SemView.Tilted ? rng.Uniform(0.55, 0.85) : 1.0;
        var layout = PickLayout(rng, className);
        scene.Layout = layout;
        var fieldHeight = rng.Chance(0.5) ? 1f : 0f;
        switch (layout)
        {
            case SceneLayout.Film:
                fieldHeight = 1;
                // A bare film is imaged bright enough to see into what cuts it (a crack, a scratch), which opens onto
                // a much darker depth.
                top = Math.Max(top, rng.Uniform(0.42, 0.68));
                scene.TopGrey = (float)top;
                scene.FloorGrey = (float)Math.Max(0.02, Math.Min(scene.FloorGrey, top - rng.Uniform(0.22, 0.35)));
                scene.Grain = (float)rng.Uniform(0.01, 0.05);
                if (rng.Chance(0.55))
                {
                    scene.CrystalSize = rng.LogUniform(10, 45) * scale;
                    scene.CrystalContrast = (float)rng.Uniform(0.03, 0.14);
                    scene.BoundaryDarkening = (float)rng.Uniform(0, 0.12);
                }
                break;
            case SceneLayout.Grating:
                scene.Gratings.Add(MakeGrating(rng, scene, scale, PatternRegion.All, tiltSquash));
                break;
            case SceneLayout.Contacts:
                scene.ContactArrays.Add(MakeContacts(rng, scene, scale, PatternRegion.All, tiltSquash));
                break;
            default:
                var (a, b) = SplitRegions(rng, width, height, scale);
                scene.Gratings.Add(MakeGrating(rng, scene, scale, a, tiltSquash));
                if (layout == SceneLayout.TwoGratings)
                {
                    scene.Gratings.Add(MakeGrating(rng, scene, scale, b, tiltSquash));
                }
                else
                {
                    scene.ContactArrays.Add(MakeContacts(rng, scene, scale, b, tiltSquash));
                }
                break;
        }
        scene.FieldHeight = fieldHeight;

        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                scene.SetSurface(x, y, LayoutHeight(scene, x, y));
            }
        }
        return scene;
    }

    /// <summary>Share of cross-sections for every class that has a cross-section form.</summary>
    public const double CrossSectionShare = 0.28;

    // One view and layout mixture for every class, so the kind of picture never tells the class. A class only
    // loses the views and layouts that cannot carry its defect (an open needs a line, a via defect a contact;
    // LER, opens and scratches are judged top-down), and keeps the others in the common proportions.
    private static SemView PickView(SynthRandom rng, string className)
    {
        var crossSection = className is SemClasses.Ler or SemClasses.Open or SemClasses.Scratch ? 0 : CrossSectionShare;
        return rng.Pick([0.78 * (1 - crossSection), 0.22 * (1 - crossSection), crossSection]) switch
        {
            0 => SemView.TopDown,
            1 => SemView.Tilted,
            _ => SemView.CrossSection,
        };
    }

    private static SceneLayout PickLayout(SynthRandom rng, string className)
    {
        // Grating, Contacts, TwoGratings, GratingAndContacts, Film.
        Span<double> weights = [0.4, 0.3, 0.12, 0.18, 0.16];
        if (className is SemClasses.Bridge or SemClasses.Open or SemClasses.Ler)
        {
            weights[(int)SceneLayout.Contacts] = 0;
            weights[(int)SceneLayout.Film] = 0;
        }
        else if (className == SemClasses.Vias)
        {
            weights[(int)SceneLayout.Grating] = 0;
            weights[(int)SceneLayout.TwoGratings] = 0;
            weights[(int)SceneLayout.Film] = 0;
        }
        else if (className == SemClasses.Cmp)
        {
            // Dishing and erosion are defects of a dense pattern; a bare film has nothing to dish.
            weights[(int)SceneLayout.Film] = 0;
        }
        return (SceneLayout)rng.Pick(weights);
    }

    private static (PatternRegion A, PatternRegion B) SplitRegions(SynthRandom rng, int width, int height, double scale)
    {
        var vertical = rng.Chance(0.5);
        var (nx, ny) = vertical ? (1.0, 0.0) : (0.0, 1.0);
        var extent = vertical ? width : height;
        var at = extent * rng.Uniform(0.3, 0.7);
        var gap = rng.Uniform(6, 30) * scale;
        if (rng.Chance(0.5))
        {
            nx = -nx;
            ny = -ny;
            at = -at;
        }
        return (new PatternRegion(nx, ny, at + gap / 2, false), new PatternRegion(-nx, -ny, -at + gap / 2, false));
    }

    private static Grating MakeGrating(SynthRandom rng, Scene scene, double scale, PatternRegion region, double tiltSquash)
    {
        double angle;
        var roll = rng.NextDouble();
        if (roll < 0.65)
        {
            angle = rng.Chance(0.5) ? 0 : Math.PI / 2;
        }
        else if (roll < 0.85)
        {
            angle = (rng.Chance(0.5) ? 0 : Math.PI / 2) + rng.Uniform(-0.12, 0.12);
        }
        else
        {
            angle = rng.Uniform(0, Math.PI);
        }
        var pitch = rng.LogUniform(26, 72) * scale;
        if (tiltSquash < 1 && Math.Abs(Math.Sin(angle)) > 0.5)
        {
            // Lines running across the tilt axis crowd together in the foreshortened view.
            pitch = Math.Max(22 * scale, pitch * tiltSquash);
        }
        return new Grating
        {
            Angle = angle,
            Pitch = pitch,
            Duty = rng.Uniform(0.32, 0.68),
            Phase = rng.Uniform(0, pitch),
            CenterX = scene.Width / 2.0,
            CenterY = scene.Height / 2.0,
            Key = rng.NextUInt64(),
            RoughAmplitude = rng.Uniform(0.25, 0.9) * scale,
            RoughScale = rng.Uniform(3, 10) * scale,
            Region = region,
        };
    }

    private static ContactArray MakeContacts(SynthRandom rng, Scene scene, double scale, PatternRegion region, double tiltSquash)
    {
        var pitch = rng.LogUniform(26, 64) * scale;
        var pitchY = pitch * rng.Uniform(0.85, 1.2) * tiltSquash;
        return new ContactArray
        {
            PitchX = pitch,
            PitchY = pitchY,
            Stagger = rng.Chance(0.4) ? 0.5 : 0,
            Radius = pitch * rng.Uniform(0.17, 0.33),
            Squareness = rng.Chance(0.7) ? 2 : rng.Uniform(2.5, 5),
            Holes = rng.Chance(0.8),
            OriginX = rng.Uniform(0, pitch),
            OriginY = rng.Uniform(0, pitchY),
            Key = rng.NextUInt64(),
            Region = region,
            RadiusJitter = rng.Uniform(0, 0.08),
            Aspect = tiltSquash,
        };
    }

    /// <summary>
    /// Height of the drawn layout at a pixel: the pattern whose region holds it, else the open field.
    /// Defects that re-draw a region call this with an override so the untouched parts match exactly.
    /// </summary>
    public static float LayoutHeight(Scene scene, double x, double y, LayoutOverride? change = null)
    {
        foreach (var g in scene.Gratings)
        {
            if (g.Region.Inside(x, y) > -0.5)
            {
                var extra = change?.Grating == g ? change.Roughening : null;
                return g.Coverage(x, y, extra);
            }
        }
        foreach (var a in scene.ContactArrays)
        {
            if (a.Region.Inside(x, y) > -0.5)
            {
                var skip = change?.Array == a ? change.SkipContacts : null;
                var cover = a.Coverage(x, y, skip);
                if (change?.Array == a && change.ExtraOpening is { } extra)
                {
                    cover = Math.Max(cover, (float)Math.Clamp(extra(x, y) + 0.5, 0, 1));
                }
                return a.HeightFor(cover);
            }
        }
        return scene.FieldHeight;
    }
}
