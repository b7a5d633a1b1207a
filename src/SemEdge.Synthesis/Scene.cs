namespace SemEdge.Synthesis;

/// <summary>How the SEM looked at the wafer.</summary>
public enum SemView
{
    TopDown,
    Tilted,
    CrossSection,
}

/// <summary>An axis-aligned pixel rectangle, end-exclusive.</summary>
public readonly record struct PixelRect(int X0, int Y0, int X1, int Y1)
{
    public int Width => X1 - X0;

    public int Height => Y1 - Y0;

    public PixelRect Intersect(PixelRect o) =>
        new(Math.Max(X0, o.X0), Math.Max(Y0, o.Y0), Math.Min(X1, o.X1), Math.Min(Y1, o.Y1));

    public PixelRect Inflate(int by) => new(X0 - by, Y0 - by, X1 + by, Y1 + by);

    public bool IsEmpty => X1 <= X0 || Y1 <= Y0;

    public bool Contains(int x, int y) => x >= X0 && y >= Y0 && x < X1 && y < Y1;

    public static PixelRect Around(double cx, double cy, double radius) =>
        new((int)Math.Floor(cx - radius), (int)Math.Floor(cy - radius), (int)Math.Ceiling(cx + radius) + 1, (int)Math.Ceiling(cy + radius) + 1);
}

/// <summary>
/// The wafer under the beam before the microscope sees it: topography (<see cref="Topography"/>, 1 = top
/// of the pattern, 0 = trench floor, above 1 = something standing on the surface), the secondary-electron
/// yield of the material at each pixel (<see cref="Material"/>) and what the pattern is made of, so a
/// defect can be put on a real line or contact.
/// </summary>
public sealed class Scene
{
    public Scene(int width, int height, SemView view, PixelRect liveArea, ulong key)
    {
        Width = width;
        Height = height;
        View = view;
        LiveArea = liveArea;
        Key = key;
        Topography = new FloatImage(width, height);
        Material = new FloatImage(width, height);
    }

    public int Width { get; }

    public int Height { get; }

    public SemView View { get; }

    /// <summary>The part of the frame the data bar does not cover; defects are placed here.</summary>
    public PixelRect LiveArea { get; }

    /// <summary>Noise key for the scene's textures, so a defect re-drawing a region matches the rest.</summary>
    public ulong Key { get; }

    public FloatImage Topography { get; }

    public FloatImage Material { get; }

    /// <summary>Grey of the pattern top and of the floor (top-down and tilted views).</summary>
    public float TopGrey { get; set; }

    public float FloorGrey { get; set; }

    /// <summary>Height of the open field between pattern blocks (top or floor).</summary>
    public float FieldHeight { get; set; }

    /// <summary>Which layout or cross-section structure the scene shows.</summary>
    public SceneLayout Layout { get; set; }

    /// <summary>Pattern scale against the legacy generator (see <see cref="SynthesisSettings.Magnification"/>).</summary>
    public double Magnification { get; set; } = 1;

    /// <summary>Amplitude of the grain texture on the pattern top.</summary>
    public float Grain { get; set; }

    /// <summary>Line/space gratings in the frame, each with the region it fills.</summary>
    public List<Grating> Gratings { get; } = [];

    public List<ContactArray> ContactArrays { get; } = [];

    /// <summary>Cross-section structures (layers, lines, vias, bumps); null for top-down and tilted views.</summary>
    public CrossSection? CrossSection { get; set; }

    public PixelRect Bounds => new(0, 0, Width, Height);

    /// <summary>Material yield of a top-down surface at a given height: the grey of top or floor plus grain.</summary>
    public float SurfaceMaterial(int x, int y, float height)
    {
        var h = Math.Clamp(height, 0f, 1f);
        var grain = Grain * Noise.Value2(Key ^ 0x6A09E667UL, x, y, 2.5) * h;
        if (CrystalSize > 0)
        {
            grain += Crystal(x, y) * h;
        }
        return FloorGrey + (TopGrey - FloorGrey) * h + grain;
    }

    /// <summary>Grain size (px) of a polycrystalline film (polished copper, solder); 0 for none.</summary>
    public double CrystalSize { get; set; }

    /// <summary>Grey spread between crystal grains (channelling contrast) and the darkening of their boundaries.</summary>
    public float CrystalContrast { get; set; }

    public float BoundaryDarkening { get; set; }

    /// <summary>Voronoi grains on jittered grid points: each grain its own grey, boundaries a little darker.</summary>
    private float Crystal(int x, int y)
    {
        var size = CrystalSize;
        var px = x / size;
        var py = y / size;
        var gx = (int)Math.Floor(px);
        var gy = (int)Math.Floor(py);
        var best = double.MaxValue;
        var second = double.MaxValue;
        var bestX = 0;
        var bestY = 0;
        var key = Key ^ 0x3C6EF372FE94F82BUL;
        for (var cy = gy - 1; cy <= gy + 1; cy++)
        {
            for (var cx = gx - 1; cx <= gx + 1; cx++)
            {
                var sx = cx + 0.5 + 0.45 * Noise.Hash(key, cx, cy);
                var sy = cy + 0.5 + 0.45 * Noise.Hash(key ^ 0x1UL, cx, cy);
                var d = (sx - px) * (sx - px) + (sy - py) * (sy - py);
                if (d < best)
                {
                    second = best;
                    best = d;
                    bestX = cx;
                    bestY = cy;
                }
                else if (d < second)
                {
                    second = d;
                }
            }
        }
        // Distance to the boundary, roughly: the gap between the nearest two sites, in pixels.
        var edge = (Math.Sqrt(second) - Math.Sqrt(best)) * size;
        var boundary = (float)Math.Max(0, 1 - edge / 1.5);
        return CrystalContrast * Noise.Hash(key ^ 0x2UL, bestX, bestY) - BoundaryDarkening * boundary;
    }

    /// <summary>Sets the topography of a top-down pixel and the matching material.</summary>
    public void SetSurface(int x, int y, float height)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height)
        {
            return;
        }
        Topography[x, y] = height;
        Material[x, y] = SurfaceMaterial(x, y, height);
    }

    /// <summary>Blends the surface at (x, y) towards a height by coverage in [0, 1] (anti-aliased drawing).</summary>
    public void BlendSurface(int x, int y, float height, float coverage)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height || coverage <= 0)
        {
            return;
        }
        var c = Math.Min(coverage, 1f);
        SetSurface(x, y, Topography[x, y] + (height - Topography[x, y]) * c);
    }
}
