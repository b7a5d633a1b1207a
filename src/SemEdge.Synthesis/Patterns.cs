namespace SemEdge.Synthesis;

/// <summary>Where in the frame a pattern lives: the whole frame, or one side of a straight boundary.</summary>
public readonly record struct PatternRegion(double Nx, double Ny, double Offset, bool Everywhere)
{
    public static PatternRegion All => new(0, 0, 0, true);

    /// <summary>Signed distance into the region in pixels (positive inside).</summary>
    public double Inside(double x, double y) => Everywhere ? 1e9 : x * Nx + y * Ny - Offset;
}

/// <summary>Extra line-edge roughness over part of a grating (the <c>ler</c> defect).</summary>
public sealed record EdgeRoughening(ulong Key, double Amplitude, double Scale, int FirstLine, int LastLine, double V0, double V1)
{
    /// <summary>Amplitude at line k, position v: full inside, tapering smoothly to zero at the ends.</summary>
    public double At(int k, double v)
    {
        if (k < FirstLine || k > LastLine || v <= V0 || v >= V1)
        {
            return 0;
        }
        var ramp = Math.Min(Math.Min(v - V0, V1 - v) / Math.Max(1, (V1 - V0) * 0.2), 1);
        return Amplitude * ramp * ramp * (3 - 2 * ramp);
    }
}

/// <summary>A line/space grating: parallel lines of one pitch and duty cycle, with natural edge roughness.</summary>
public sealed class Grating
{
    public required double Angle { get; init; }

    public required double Pitch { get; init; }

    public required double Duty { get; init; }

    public required double Phase { get; init; }

    public required double CenterX { get; init; }

    public required double CenterY { get; init; }

    public required ulong Key { get; init; }

    /// <summary>Natural roughness amplitude (px) and correlation length (px) of every edge.</summary>
    public required double RoughAmplitude { get; init; }

    public required double RoughScale { get; init; }

    public required PatternRegion Region { get; init; }

    public double HalfWidth => Duty * Pitch / 2;

    public double Gap => Pitch - 2 * HalfWidth;

    public (double U, double V) ToLocal(double x, double y)
    {
        var dx = x - CenterX;
        var dy = y - CenterY;
        var c = Math.Cos(Angle);
        var s = Math.Sin(Angle);
        return (dx * c + dy * s, -dx * s + dy * c);
    }

    public (double X, double Y) ToImage(double u, double v)
    {
        var c = Math.Cos(Angle);
        var s = Math.Sin(Angle);
        return (CenterX + u * c - v * s, CenterY + u * s + v * c);
    }

    public int LineIndex(double u) => (int)Math.Floor((u - Phase) / Pitch);

    public double LineCenter(int k) => Phase + (k + 0.5) * Pitch;

    private double Edge(int k, int side, double v, EdgeRoughening? extra)
    {
        var r = RoughAmplitude * Noise.Fbm1(Key, k * 2 + side, v, RoughScale, 2);
        if (extra is not null)
        {
            var a = extra.At(k, v);
            if (a > 0)
            {
                r += a * Noise.Fbm1(extra.Key, k * 2 + side, v, extra.Scale, 3);
            }
        }
        return r;
    }

    private double LineDistance(int k, double u, double v, EdgeRoughening? extra)
    {
        var local = u - LineCenter(k);
        var left = -HalfWidth - Edge(k, 0, v, extra);
        var right = HalfWidth + Edge(k, 1, v, extra);
        return Math.Min(local - left, right - local);
    }

    /// <summary>Signed distance in pixels to the nearest line edge, positive on a line.</summary>
    public double SignedDistance(double x, double y, EdgeRoughening? extra = null)
    {
        var (u, v) = ToLocal(x, y);
        var k = LineIndex(u);
        var d = LineDistance(k, u, v, extra);
        if (extra is not null && k + 1 >= extra.FirstLine && k - 1 <= extra.LastLine)
        {
            // Strong roughness can push an edge past the cell boundary; neighbours then matter.
            d = Math.Max(d, Math.Max(LineDistance(k - 1, u, v, extra), LineDistance(k + 1, u, v, extra)));
        }
        return d;
    }

    /// <summary>Anti-aliased coverage of the lines at a pixel centre, inside this grating's region.</summary>
    public float Coverage(double x, double y, EdgeRoughening? extra = null)
    {
        var inRegion = Math.Clamp(Region.Inside(x, y) + 0.5, 0, 1);
        if (inRegion <= 0)
        {
            return 0;
        }
        return (float)(Math.Clamp(SignedDistance(x, y, extra) + 0.5, 0, 1) * inRegion);
    }
}

/// <summary>One contact (or pillar) of an array.</summary>
public readonly record struct Contact(int Row, int Column, double X, double Y, double Radius);

/// <summary>A square or staggered array of contact holes (or pillars).</summary>
public sealed class ContactArray
{
    public required double PitchX { get; init; }

    public required double PitchY { get; init; }

    /// <summary>0 for a square array, 0.5 to shift every other row by half a pitch.</summary>
    public required double Stagger { get; init; }

    public required double Radius { get; init; }

    /// <summary>Superellipse exponent: 2 round, larger values squarer.</summary>
    public required double Squareness { get; init; }

    /// <summary>True for holes cut into the surface, false for pillars standing on the floor.</summary>
    public required bool Holes { get; init; }

    public required double OriginX { get; init; }

    public required double OriginY { get; init; }

    public required ulong Key { get; init; }

    public required PatternRegion Region { get; init; }

    /// <summary>Per-contact radius spread (fraction).</summary>
    public required double RadiusJitter { get; init; }

    /// <summary>Height/width of each contact: below 1 when the stage is tilted and circles foreshorten.</summary>
    public double Aspect { get; init; } = 1;

    public Contact ContactAt(int row, int col)
    {
        var x = OriginX + (col + ((row & 1) == 1 ? Stagger : 0)) * PitchX;
        var y = OriginY + row * PitchY;
        var r = Radius * (1 + RadiusJitter * Noise.Hash(Key, row, col));
        return new Contact(row, col, x, y, r);
    }

    /// <summary>Contacts whose centre lies inside a rectangle and inside the array's region.</summary>
    public IEnumerable<Contact> ContactsIn(PixelRect rect)
    {
        var r0 = (int)Math.Floor((rect.Y0 - OriginY) / PitchY) - 1;
        var r1 = (int)Math.Ceiling((rect.Y1 - OriginY) / PitchY) + 1;
        for (var row = r0; row <= r1; row++)
        {
            var shift = (row & 1) == 1 ? Stagger : 0;
            var c0 = (int)Math.Floor((rect.X0 - OriginX) / PitchX - shift) - 1;
            var c1 = (int)Math.Ceiling((rect.X1 - OriginX) / PitchX - shift) + 1;
            for (var col = c0; col <= c1; col++)
            {
                var c = ContactAt(row, col);
                if (c.X >= rect.X0 && c.X < rect.X1 && c.Y >= rect.Y0 && c.Y < rect.Y1 && Region.Inside(c.X, c.Y) > c.Radius)
                {
                    yield return c;
                }
            }
        }
    }

    /// <summary>Signed distance (px, positive inside) to a superellipse contact outline.</summary>
    public static double ShapeDistance(double dx, double dy, double rx, double ry, double n)
    {
        var ax = Math.Abs(dx) / rx;
        var ay = Math.Abs(dy) / ry;
        var rho = Math.Pow(Math.Pow(ax, n) + Math.Pow(ay, n), 1 / n);
        // Scale the normalised radius back to pixels; exact for circles and close enough for the rest.
        return (1 - rho) * Math.Min(rx, ry);
    }

    /// <summary>Coverage of contact openings at a pixel; <paramref name="skip"/> leaves contacts out.</summary>
    public float Coverage(double x, double y, IReadOnlySet<(int Row, int Column)>? skip = null)
    {
        if (Region.Inside(x, y) < -0.5)
        {
            return 0;
        }
        var row0 = (int)Math.Floor((y - OriginY) / PitchY);
        var best = -1e9;
        for (var row = row0; row <= row0 + 1; row++)
        {
            var shift = (row & 1) == 1 ? Stagger : 0;
            var col0 = (int)Math.Floor((x - OriginX) / PitchX - shift);
            for (var col = col0; col <= col0 + 1; col++)
            {
                if (skip is not null && skip.Contains((row, col)))
                {
                    continue;
                }
                var c = ContactAt(row, col);
                if (Region.Inside(c.X, c.Y) < c.Radius)
                {
                    continue;
                }
                best = Math.Max(best, ShapeDistance(x - c.X, y - c.Y, c.Radius, c.Radius * Aspect, Squareness));
            }
        }
        return (float)Math.Clamp(best + 0.5, 0, 1);
    }

    /// <summary>Surface height for a given opening coverage: holes go down to the floor, pillars stand up.</summary>
    public float HeightFor(float coverage) => Holes ? 1 - coverage : coverage;
}
