namespace SemEdge.Synthesis;

/// <summary>A single-channel float raster; the generator works in these and quantises once at the end.</summary>
public sealed class FloatImage
{
    public FloatImage(int width, int height)
    {
        Width = width;
        Height = height;
        Data = new float[width * height];
    }

    public int Width { get; }

    public int Height { get; }

    public float[] Data { get; }

    public float this[int x, int y]
    {
        get => Data[y * Width + x];
        set => Data[y * Width + x] = value;
    }

    /// <summary>Value at (x, y) with coordinates clamped to the edge.</summary>
    public float At(int x, int y)
    {
        x = Math.Clamp(x, 0, Width - 1);
        y = Math.Clamp(y, 0, Height - 1);
        return Data[y * Width + x];
    }

    public FloatImage Clone()
    {
        var copy = new FloatImage(Width, Height);
        Data.AsSpan().CopyTo(copy.Data);
        return copy;
    }

    public void Fill(float value) => Data.AsSpan().Fill(value);

    /// <summary>Radius in pixels of the kernel <see cref="GaussianBlur"/> uses for a given sigma.</summary>
    public static int KernelRadius(double sigma) => sigma <= 0.05 ? 0 : (int)Math.Ceiling(3 * sigma);

    /// <summary>
    /// Separable Gaussian blur, edges clamped. The kernel is cut at <see cref="KernelRadius"/>, so a change
    /// to one pixel reaches exactly that far; the defect box relies on it.
    /// </summary>
    public void GaussianBlur(double sigmaX, double sigmaY)
    {
        var kx = Kernel(sigmaX);
        var ky = Kernel(sigmaY);
        var tmp = new float[Data.Length];
        if (kx.Length > 1)
        {
            ConvolveRows(Data, tmp, kx);
            tmp.AsSpan().CopyTo(Data);
        }
        if (ky.Length > 1)
        {
            ConvolveColumns(Data, tmp, ky);
            tmp.AsSpan().CopyTo(Data);
        }
    }

    private static float[] Kernel(double sigma)
    {
        var r = KernelRadius(sigma);
        var k = new float[2 * r + 1];
        if (r == 0)
        {
            k[0] = 1;
            return k;
        }
        var sum = 0.0;
        for (var i = -r; i <= r; i++)
        {
            sum += Math.Exp(-0.5 * i * i / (sigma * sigma));
        }
        for (var i = -r; i <= r; i++)
        {
            k[i + r] = (float)(Math.Exp(-0.5 * i * i / (sigma * sigma)) / sum);
        }
        return k;
    }

    private void ConvolveRows(float[] src, float[] dst, float[] k)
    {
        var r = k.Length / 2;
        var w = Width;
        for (var y = 0; y < Height; y++)
        {
            var row = y * w;
            for (var x = 0; x < w; x++)
            {
                var acc = 0f;
                if (x >= r && x < w - r)
                {
                    var start = row + x - r;
                    for (var i = 0; i < k.Length; i++)
                    {
                        acc += k[i] * src[start + i];
                    }
                }
                else
                {
                    for (var i = 0; i < k.Length; i++)
                    {
                        acc += k[i] * src[row + Math.Clamp(x + i - r, 0, w - 1)];
                    }
                }
                dst[row + x] = acc;
            }
        }
    }

    private void ConvolveColumns(float[] src, float[] dst, float[] k)
    {
        var r = k.Length / 2;
        var w = Width;
        var h = Height;
        var acc = new float[w];
        for (var y = 0; y < h; y++)
        {
            Array.Clear(acc);
            for (var i = 0; i < k.Length; i++)
            {
                var sy = Math.Clamp(y + i - r, 0, h - 1);
                var kv = k[i];
                var srcRow = src.AsSpan(sy * w, w);
                for (var x = 0; x < w; x++)
                {
                    acc[x] += kv * srcRow[x];
                }
            }
            acc.AsSpan().CopyTo(dst.AsSpan(y * w, w));
        }
    }
}
