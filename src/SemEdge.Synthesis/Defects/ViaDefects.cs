namespace SemEdge.Synthesis.Defects;

/// <summary>Contact-array defects: missing, merged, misshapen, shifted or shrunken contacts.</summary>
internal static class ViaDefects
{
    public static void Paint(Scene scene, SynthRandom rng, double scale)
    {
        var found = DefectSites.ContactsInLiveArea(scene, 12 * scale)
            ?? DefectSites.ContactsInLiveArea(scene, 0)
            ?? throw new DefectNotPlacedException("no contact array inside the live area for a via defect");
        var (array, contacts) = found;
        var skip = new HashSet<(int Row, int Column)>();
        var shapes = new List<Func<double, double, double>>();
        var touched = new List<(double X, double Y, double R)>();
        var count = rng.Chance(0.4) ? 1 : rng.Next(2, 6);
        var first = DefectSites.NearestToReviewPoint(scene, rng, contacts, c => (c.X, c.Y));
        var pool = contacts
            .Where(c => Math.Abs(c.Row - first.Row) <= 3 && Math.Abs(c.Column - first.Column) <= 3)
            .OrderBy(c => Math.Abs(c.Row - first.Row) + Math.Abs(c.Column - first.Column))
            .ToList();
        var pitch = Math.Min(array.PitchX, array.PitchY);
        for (var i = 0; i < count && i < pool.Count; i++)
        {
            var c = pool[i];
            if (skip.Contains((c.Row, c.Column)))
            {
                continue;
            }
            skip.Add((c.Row, c.Column));
            var rx = c.Radius;
            var ry = c.Radius * array.Aspect;
            switch (rng.Pick([0.3, 0.2, 0.3, 0.1, 0.1]))
            {
                case 0:
                    // Missing: not opened at all, or only a faint dimple.
                    if (rng.Chance(0.3))
                    {
                        var f = rng.Uniform(0.3, 0.55);
                        shapes.Add((x, y) => ContactArray.ShapeDistance(x - c.X, y - c.Y, rx * f, ry * f, 2));
                    }
                    touched.Add((c.X, c.Y, Math.Max(rx, ry)));
                    break;
                case 1:
                    // Merged with a neighbour through a neck.
                    var nb = rng.Pick([1, 1, 0.5, 0.5]) switch
                    {
                        0 => array.ContactAt(c.Row, c.Column + 1),
                        1 => array.ContactAt(c.Row, c.Column - 1),
                        2 => array.ContactAt(c.Row + 1, c.Column),
                        _ => array.ContactAt(c.Row - 1, c.Column),
                    };
                    var neck = Math.Min(rx, ry) * rng.Uniform(0.45, 1.0);
                    shapes.Add((x, y) => ContactArray.ShapeDistance(x - c.X, y - c.Y, rx, ry, array.Squareness));
                    shapes.Add((x, y) => Math.Max(ContactArray.ShapeDistance(x - nb.X, y - nb.Y, nb.Radius, nb.Radius * array.Aspect, array.Squareness),
                        Capsule(x, y, c.X, c.Y, nb.X, nb.Y, neck)));
                    touched.Add((c.X, c.Y, Math.Max(rx, ry)));
                    touched.Add((nb.X, nb.Y, nb.Radius));
                    break;
                case 2:
                    // Misshapen: stretched, rotated, lumpy.
                    var ax = rx * rng.Uniform(0.6, 1.7);
                    var ay = ry * rng.Uniform(0.6, 1.7);
                    var rot = rng.Uniform(0, Math.PI);
                    var lump = rng.Uniform(0, 0.3);
                    var key = rng.NextUInt64();
                    var (cr, sr) = (Math.Cos(rot), Math.Sin(rot));
                    shapes.Add((x, y) =>
                    {
                        var dx = x - c.X;
                        var dy = y - c.Y;
                        var d = Math.Sqrt(dx * dx + dy * dy) + 1e-9;
                        var wobble = 1 + lump * Noise.Fbm2(key, dx / d * 2 + 5, dy / d * 2 + 5, 1, 2);
                        return ContactArray.ShapeDistance((dx * cr + dy * sr) / wobble, (-dx * sr + dy * cr) / wobble, ax, ay, 2);
                    });
                    touched.Add((c.X, c.Y, Math.Max(ax, ay) * (1 + lump)));
                    break;
                case 3:
                    // Shifted off its grid position (overlay error on one contact).
                    var sa = rng.Uniform(0, 2 * Math.PI);
                    var sd = pitch * rng.Uniform(0.15, 0.3);
                    var (sx, sy) = (c.X + Math.Cos(sa) * sd, c.Y + Math.Sin(sa) * sd);
                    shapes.Add((x, y) => ContactArray.ShapeDistance(x - sx, y - sy, rx, ry, array.Squareness));
                    touched.Add((c.X, c.Y, Math.Max(rx, ry) + sd));
                    break;
                default:
                    // Under-opened: much smaller than its neighbours.
                    var k = rng.Uniform(0.3, 0.55);
                    shapes.Add((x, y) => ContactArray.ShapeDistance(x - c.X, y - c.Y, rx * k, ry * k, array.Squareness));
                    touched.Add((c.X, c.Y, Math.Max(rx, ry)));
                    break;
            }
        }

        var change = new LayoutOverride
        {
            Array = array,
            SkipContacts = skip,
            ExtraOpening = (x, y) =>
            {
                var best = -1e9;
                foreach (var s in shapes)
                {
                    best = Math.Max(best, s(x, y));
                }
                return best;
            },
        };
        foreach (var (x, y, r) in touched)
        {
            var rect = PixelRect.Around(x, y, r * 1.8 + 3).Intersect(scene.LiveArea);
            for (var py = rect.Y0; py < rect.Y1; py++)
            {
                for (var px = rect.X0; px < rect.X1; px++)
                {
                    scene.SetSurface(px, py, SceneBuilder.LayoutHeight(scene, px, py, change));
                }
            }
        }
    }

    private static double Capsule(double x, double y, double ax, double ay, double bx, double by, double r)
    {
        var dx = bx - ax;
        var dy = by - ay;
        var t = Math.Clamp(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0, 1);
        var px = ax + t * dx - x;
        var py = ay + t * dy - y;
        return r - Math.Sqrt(px * px + py * py);
    }
}
