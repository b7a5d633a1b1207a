namespace SemEdge.Synthesis.Defects;

/// <summary>A point on the centre line of one line of a grating.</summary>
public readonly record struct LineSite(Grating Grating, int Line, double V, double X, double Y);

/// <summary>Finds places for a defect: inside the live area and on the structure the defect needs.</summary>
public static class DefectSites
{
    /// <summary>
    /// A defect position. A review SEM drives the stage to the coordinate the inspection tool reported, so the
    /// defect sits near the centre of the field, off by the stage's placement error (here a normal spread of
    /// <see cref="PlacementSpread"/> of the field, kept <paramref name="margin"/> inside the live area).
    /// </summary>
    public static (double X, double Y) Point(Scene scene, SynthRandom rng, double margin)
    {
        var a = scene.LiveArea;
        var mx = Math.Min(margin, a.Width / 3.0);
        var my = Math.Min(margin, a.Height / 3.0);
        var x = (a.X0 + a.X1) / 2.0 + rng.Gaussian() * PlacementSpread * a.Width;
        var y = (a.Y0 + a.Y1) / 2.0 + rng.Gaussian() * PlacementSpread * a.Height;
        return (Math.Clamp(x, a.X0 + mx, a.X1 - mx), Math.Clamp(y, a.Y0 + my, a.Y1 - my));
    }

    /// <summary>
    /// Caps the radius of a broad patch (CMP, stains, peeling, collapse) at <see cref="MaxPatchRadius"/> of the live
    /// area, so its edge stays in the frame: a patch larger than the field has no edge to see and reads as a
    /// brightness gradient, like charging, which every class shows.
    /// </summary>
    public static double FitInFrame(Scene scene, double radius) =>
        Math.Min(radius, MaxPatchRadius * Math.Min(scene.LiveArea.Width, scene.LiveArea.Height));

    /// <summary>Largest patch radius, as a fraction of the live area's shorter side.</summary>
    public const double MaxPatchRadius = 0.36;

    /// <summary>Standard deviation of the defect's offset from the field centre, as a fraction of the field.</summary>
    public const double PlacementSpread = 0.16;

    /// <summary>The item nearest a review position (<see cref="Point"/>): the structure the review SEM centred on.</summary>
    public static T NearestToReviewPoint<T>(Scene scene, SynthRandom rng, IReadOnlyList<T> items, Func<T, (double X, double Y)> at)
    {
        var (px, py) = Point(scene, rng, 0);
        return items.MinBy(i => Math.Pow(at(i).X - px, 2) + Math.Pow(at(i).Y - py, 2))!;
    }

    public static bool Inside(Scene scene, double x, double y, double margin) =>
        x >= scene.LiveArea.X0 + margin && x < scene.LiveArea.X1 - margin &&
        y >= scene.LiveArea.Y0 + margin && y < scene.LiveArea.Y1 - margin;

    /// <summary>A point on a line of some grating, away from its region's border; null when there is none.</summary>
    public static LineSite? OnLine(Scene scene, SynthRandom rng, double margin)
    {
        if (scene.Gratings.Count == 0)
        {
            return null;
        }
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var (x, y) = Point(scene, rng, margin);
            foreach (var g in scene.Gratings)
            {
                if (g.Region.Inside(x, y) < g.Pitch * 1.5 && !g.Region.Everywhere)
                {
                    continue;
                }
                var (u, v) = g.ToLocal(x, y);
                var k = g.LineIndex(u);
                var (lx, ly) = g.ToImage(g.LineCenter(k), v);
                if (Inside(scene, lx, ly, margin * 0.5) && (g.Region.Everywhere || g.Region.Inside(lx, ly) > g.Pitch * 1.5))
                {
                    return new LineSite(g, k, v, lx, ly);
                }
            }
        }
        return null;
    }

    /// <summary>Contacts of some array that lie well inside the live area, with the array they belong to.</summary>
    public static (ContactArray Array, List<Contact> Contacts)? ContactsInLiveArea(Scene scene, double margin)
    {
        foreach (var a in scene.ContactArrays)
        {
            var area = scene.LiveArea;
            var inner = new PixelRect(area.X0 + (int)margin, area.Y0 + (int)margin, area.X1 - (int)margin, area.Y1 - (int)margin);
            var list = a.ContactsIn(inner).Where(c => a.Region.Inside(c.X, c.Y) > Math.Max(a.PitchX, a.PitchY)).ToList();
            if (list.Count > 0)
            {
                return (a, list);
            }
        }
        return null;
    }
}
