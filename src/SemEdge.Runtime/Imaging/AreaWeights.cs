namespace SemEdge.Imaging;

/// <summary>
/// One axis of the "area" resize, precomputed. The exact definition, which the Python trainer implements too
/// (<c>src/training</c>) so both sides agree to ~1e-6:
/// <code>
///   s = src / dst                                   (source pixels per output pixel; may be &lt; 1)
///   output pixel o covers the source interval [o*s, (o+1)*s)
///   source pixel i covers [i, i+1)
///   w(o, i) = |[i, i+1) ∩ [o*s, (o+1)*s)| / s       (overlap length divided by s; the weights of o sum to 1)
///   out[o] = Σ_i w(o, i) * in[i]
/// </code>
/// In two dimensions the filter is separable: out[oy, ox] = Σ_y Σ_x w_y(oy, y) w_x(ox, x) in[y, x], computed as a
/// horizontal pass over every source row, then a vertical pass. For an integer ratio it is the plain mean of
/// each s×s block (e.g. 512→128: 4×4 means). Weights are computed in double and stored as float; sums are float.
/// </summary>
internal sealed class AreaWeights
{
    public AreaWeights(int source, int destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(source, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(destination, 1);
        Source = source;
        Destination = destination;
        First = new int[destination];
        Count = new int[destination];
        Offset = new int[destination];
        var weights = new List<float>(destination * 4);
        var scale = (double)source / destination;
        for (var o = 0; o < destination; o++)
        {
            var start = o * scale;
            var end = (o + 1) * scale;
            var first = (int)Math.Floor(start);
            var last = Math.Min(source - 1, (int)Math.Ceiling(end) - 1);
            First[o] = first;
            Offset[o] = weights.Count;
            for (var i = first; i <= last; i++)
            {
                var overlap = Math.Max(0, Math.Min(i + 1, end) - Math.Max(i, start));
                weights.Add((float)(overlap / scale));
            }

            Count[o] = weights.Count - Offset[o];
        }

        Weights = [.. weights];
    }

    public int Source { get; }

    public int Destination { get; }

    /// <summary>First source index contributing to each output index.</summary>
    public int[] First { get; }

    /// <summary>Number of consecutive source indices contributing to each output index.</summary>
    public int[] Count { get; }

    /// <summary>Start of each output index's weights in <see cref="Weights"/>.</summary>
    public int[] Offset { get; }

    public float[] Weights { get; }
}
