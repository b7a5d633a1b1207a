namespace SemEdge.Synthesis.Defects;

/// <summary>
/// Anti-aliased coverage in [0, 1] painted by strokes and blobs, with the bounding rectangle of what was
/// painted, so a defect can then change the scene only where it lies.
/// </summary>
public sealed class CoverageMask
{
    private readonly FloatImage _mask;
    private int _x0 = int.MaxValue;
    private int _y0 = int.MaxValue;
    private int _x1 = int.MinValue;
    private int _y1 = int.MinValue;

    public CoverageMask(int width, int height) => _mask = new FloatImage(width, height);

    public PixelRect Bounds => _x1 < _x0 ? new PixelRect(0, 0, 0, 0) : new PixelRect(_x0, _y0, _x1, _y1);

    public float this[int x, int y] => _mask[x, y];

    private void Touch(PixelRect r)
    {
        _x0 = Math.Min(_x0, r.X0);
        _y0 = Math.Min(_y0, r.Y0);
        _x1 = Math.Max(_x1, r.X1);
        _y1 = Math.Max(_y1, r.Y1);
    }

    /// <summary>A segment with round caps whose radius runs from r0 to r1; coverage scaled by strength.</summary>
    public void Capsule(double ax, double ay, double bx, double by, double r0, double r1, float strength = 1)
    {
        var reach = Math.Max(r0, r1) + 1;
        var rect = new PixelRect(
            (int)Math.Floor(Math.Min(ax, bx) - reach), (int)Math.Floor(Math.Min(ay, by) - reach),
            (int)Math.Ceiling(Math.Max(ax, bx) + reach) + 1, (int)Math.Ceiling(Math.Max(ay, by) + reach) + 1)
            .Intersect(new PixelRect(0, 0, _mask.Width, _mask.Height));
        if (rect.IsEmpty)
        {
            return;
        }
        var dx = bx - ax;
        var dy = by - ay;
        var len2 = dx * dx + dy * dy;
        var painted = false;
        for (var y = rect.Y0; y < rect.Y1; y++)
        {
            for (var x = rect.X0; x < rect.X1; x++)
            {
                var t = len2 > 0 ? Math.Clamp(((x - ax) * dx + (y - ay) * dy) / len2, 0, 1) : 0;
                var px = ax + t * dx - x;
                var py = ay + t * dy - y;
                var r = r0 + (r1 - r0) * t;
                var c = (float)Math.Clamp(r - Math.Sqrt(px * px + py * py) + 0.5, 0, 1) * strength;
                if (c > _mask[x, y])
                {
                    _mask[x, y] = c;
                    painted = true;
                }
            }
        }
        if (painted)
        {
            Touch(rect);
        }
    }

    /// <summary>Sets coverage from a function over a rectangle (keeping the larger value).</summary>
    public void Paint(PixelRect rect, Func<int, int, float> coverage)
    {
        rect = rect.Intersect(new PixelRect(0, 0, _mask.Width, _mask.Height));
        for (var y = rect.Y0; y < rect.Y1; y++)
        {
            for (var x = rect.X0; x < rect.X1; x++)
            {
                var c = Math.Clamp(coverage(x, y), 0f, 1f);
                if (c > _mask[x, y])
                {
                    _mask[x, y] = c;
                }
            }
        }
        Touch(rect);
    }

    /// <summary>Calls <paramref name="apply"/> for every pixel with coverage above zero.</summary>
    public void ForEach(Action<int, int, float> apply)
    {
        var b = Bounds;
        for (var y = b.Y0; y < b.Y1; y++)
        {
            for (var x = b.X0; x < b.X1; x++)
            {
                var m = _mask[x, y];
                if (m > 0)
                {
                    apply(x, y, m);
                }
            }
        }
    }
}
