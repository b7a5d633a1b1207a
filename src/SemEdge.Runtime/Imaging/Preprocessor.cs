using System.Runtime.InteropServices;

namespace SemEdge.Imaging;

/// <summary>
/// Turns a <see cref="DecodedImage"/> into a model's input tensor exactly as the manifest's
/// <see cref="Preprocessing"/> says: BT.601 grey in [0,1], area resize (<see cref="AreaWeights"/>), then
/// (v − mean) / std. Scratch buffers and weight tables are kept between calls (they are rebuilt only when the
/// source size changes), so a stream of same-sized images preprocesses without allocating.
/// Not thread-safe: one per pipeline worker.
/// </summary>
public sealed class Preprocessor
{
    private static readonly float[] Grey8Lut = BuildGrey8Lut();

    private readonly float _mean;
    private readonly float _std;
    private AreaWeights? _horizontal;
    private AreaWeights? _vertical;
    private float[] _luma = [];
    private float[] _rows = [];
    private int[] _sums = [];

    public Preprocessor(Preprocessing spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!string.Equals(spec.Colour, "grey-bt601", StringComparison.Ordinal))
        {
            throw new NotSupportedException($"manifest preprocessing colour '{spec.Colour}' is not supported (only grey-bt601)");
        }

        if (!string.Equals(spec.Resize, "area", StringComparison.Ordinal))
        {
            throw new NotSupportedException($"manifest preprocessing resize '{spec.Resize}' is not supported (only area)");
        }

        if (spec.Width < 1 || spec.Height < 1 || !(spec.Std > 0) || !float.IsFinite(spec.Mean))
        {
            throw new ArgumentException(
                $"manifest preprocessing is invalid: {spec.Width}x{spec.Height}, mean {spec.Mean}, std {spec.Std}", nameof(spec));
        }

        Spec = spec;
        Width = spec.Width;
        Height = spec.Height;
        _mean = spec.Mean;
        _std = spec.Std;
    }

    public Preprocessing Spec { get; }

    public int Width { get; }

    public int Height { get; }

    /// <summary>Number of floats written by <see cref="Run"/>: Width × Height (one channel).</summary>
    public int TensorLength => Width * Height;

    /// <summary>Writes the normalised Height×Width grey plane of <paramref name="image"/> into <paramref name="tensor"/>.</summary>
    public void Run(DecodedImage image, Span<float> tensor)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (tensor.Length < TensorLength)
        {
            throw new ArgumentException($"tensor holds {tensor.Length} floats, {TensorLength} needed", nameof(tensor));
        }

        if (image.Layout == PixelLayout.Grey8 && image.Width % Width == 0 && image.Height % Height == 0)
        {
            RunGrey8Blocks(image, tensor[..TensorLength]);
            return;
        }

        var horizontal = _horizontal is { } h && h.Source == image.Width ? h : _horizontal = new AreaWeights(image.Width, Width);
        var vertical = _vertical is { } v && v.Source == image.Height ? v : _vertical = new AreaWeights(image.Height, Height);
        if (_luma.Length < image.Width) _luma = new float[image.Width];
        if (_rows.Length < image.Height * Width) _rows = new float[image.Height * Width];

        // Horizontal pass: every source row to Width samples.
        var luma = _luma.AsSpan(0, image.Width);
        for (var y = 0; y < image.Height; y++)
        {
            ToLuma(image.Row(y), image.Layout, luma);
            Resample(luma, horizontal, _rows.AsSpan(y * Width, Width));
        }

        // Vertical pass, fused with the normalisation.
        var output = tensor[..TensorLength];
        output.Clear();
        for (var oy = 0; oy < Height; oy++)
        {
            var dst = output.Slice(oy * Width, Width);
            var first = vertical.First[oy];
            var weights = vertical.Weights.AsSpan(vertical.Offset[oy], vertical.Count[oy]);
            for (var k = 0; k < weights.Length; k++)
            {
                var src = _rows.AsSpan((first + k) * Width, Width);
                var w = weights[k];
                for (var x = 0; x < dst.Length; x++)
                {
                    dst[x] += w * src[x];
                }
            }

            for (var x = 0; x < dst.Length; x++)
            {
                dst[x] = (dst[x] - _mean) / _std;
            }
        }
    }

    /// <summary>
    /// The area resize where every output pixel is the mean of a whole block of source pixels (8-bit grey, sizes a
    /// multiple of the input's: 512 or 1024 to 128, the SEM tools' usual sizes): the block's bytes are summed as
    /// integers, exactly, and divided once. The weighted path gives the same means to within float rounding
    /// (1e-7), at about five times the cost: a float lookup and multiply-add per source pixel.
    /// </summary>
    private void RunGrey8Blocks(DecodedImage image, Span<float> output)
    {
        var blockWidth = image.Width / Width;
        var blockHeight = image.Height / Height;
        var levels = blockWidth * blockHeight * 255f;
        if (_sums.Length < Width) _sums = new int[Width];
        var sums = _sums.AsSpan(0, Width);
        for (var oy = 0; oy < Height; oy++)
        {
            sums.Clear();
            for (var y = oy * blockHeight; y < (oy + 1) * blockHeight; y++)
            {
                var row = image.Row(y)[..image.Width];
                for (int ox = 0, x = 0; ox < sums.Length; ox++)
                {
                    var sum = 0;
                    for (var end = x + blockWidth; x < end; x++)
                    {
                        sum += row[x];
                    }

                    sums[ox] += sum;
                }
            }

            var dst = output.Slice(oy * Width, Width);
            for (var x = 0; x < dst.Length; x++)
            {
                dst[x] = ((sums[x] / levels) - _mean) / _std;
            }
        }
    }

    /// <summary>
    /// One row to grey values in [0,1]: 8-bit v/255, 16-bit v/65535, colour BT.601 luma; with an alpha channel the
    /// grey value is composited over black (v × alpha), so a transparent pixel reads 0 whatever colour it hides.
    /// </summary>
    internal static void ToLuma(ReadOnlySpan<byte> row, PixelLayout layout, Span<float> luma)
    {
        switch (layout)
        {
            case PixelLayout.Grey8:
                for (var x = 0; x < luma.Length; x++) luma[x] = Grey8Lut[row[x]];
                break;
            case PixelLayout.Grey16:
                var grey16 = MemoryMarshal.Cast<byte, ushort>(row);
                for (var x = 0; x < luma.Length; x++) luma[x] = grey16[x] / 65535f;
                break;
            case PixelLayout.Rgba8:
                for (var x = 0; x < luma.Length; x++)
                {
                    var p = row.Slice(x * 4, 4);
                    luma[x] = ((0.299f * p[0]) + (0.587f * p[1]) + (0.114f * p[2])) / 255f * Grey8Lut[p[3]];
                }

                break;
            case PixelLayout.Rgba16:
                var rgba16 = MemoryMarshal.Cast<byte, ushort>(row);
                for (var x = 0; x < luma.Length; x++)
                {
                    var i = x * 4;
                    luma[x] = ((0.299f * rgba16[i]) + (0.587f * rgba16[i + 1]) + (0.114f * rgba16[i + 2])) / 65535f * (rgba16[i + 3] / 65535f);
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(layout));
        }
    }

    private static void Resample(ReadOnlySpan<float> source, AreaWeights weights, Span<float> destination)
    {
        var all = weights.Weights;
        for (var o = 0; o < destination.Length; o++)
        {
            var src = source.Slice(weights.First[o], weights.Count[o]);
            var w = all.AsSpan(weights.Offset[o], weights.Count[o]);
            var sum = 0f;
            for (var k = 0; k < w.Length; k++)
            {
                sum += w[k] * src[k];
            }

            destination[o] = sum;
        }
    }

    private static float[] BuildGrey8Lut()
    {
        var lut = new float[256];
        for (var i = 0; i < lut.Length; i++) lut[i] = i / 255f;
        return lut;
    }
}
