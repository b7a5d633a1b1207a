namespace SemEdge.Synthesis;

/// <summary>
/// xoshiro256** seeded through SplitMix64. Written out rather than using <see cref="Random"/> because the
/// dataset must stay byte-identical for a given seed across runtime versions, and System.Random's seeded
/// algorithm is an implementation detail.
/// </summary>
public sealed class SynthRandom
{
    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;
    private double _spareGaussian;
    private bool _hasSpare;

    public SynthRandom(ulong seed)
    {
        var sm = seed;
        _s0 = SplitMix(ref sm);
        _s1 = SplitMix(ref sm);
        _s2 = SplitMix(ref sm);
        _s3 = SplitMix(ref sm);
    }

    /// <summary>A stream for one purpose (scene, nuisance, defect...) derived from an image seed.</summary>
    public static SynthRandom ForStream(ulong seed, ulong stream) => new(Mix(seed ^ (stream * 0x9E3779B97F4A7C15UL)));

    /// <summary>SplitMix64's finaliser: a bijection on 64-bit values, so distinct inputs never collide.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong SplitMix(ref ulong state)
    {
        state += 0x9E3779B97F4A7C15UL;
        return Mix(state);
    }

    public ulong NextUInt64()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public float NextFloat() => (float)NextDouble();

    /// <summary>Uniform in [min, max).</summary>
    public double Uniform(double min, double max) => min + (max - min) * NextDouble();

    /// <summary>Log-uniform in [min, max): sizes spread evenly over scales, so small defects are common.</summary>
    public double LogUniform(double min, double max) => Math.Exp(Uniform(Math.Log(min), Math.Log(max)));

    /// <summary>Integer in [min, max).</summary>
    public int Next(int min, int max)
    {
        if (max <= min)
        {
            return min;
        }
        return min + (int)((NextUInt64() >> 33) % (ulong)(max - min));
    }

    public bool Chance(double probability) => NextDouble() < probability;

    public int Sign() => Chance(0.5) ? 1 : -1;

    public double Gaussian()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spareGaussian;
        }
        double u;
        double v;
        double s;
        do
        {
            u = NextDouble() * 2 - 1;
            v = NextDouble() * 2 - 1;
            s = u * u + v * v;
        }
        while (s >= 1 || s == 0);
        var f = Math.Sqrt(-2 * Math.Log(s) / s);
        _spareGaussian = v * f;
        _hasSpare = true;
        return u * f;
    }

    /// <summary>Picks an index with probability proportional to its weight.</summary>
    public int Pick(ReadOnlySpan<double> weights)
    {
        var total = 0.0;
        foreach (var w in weights)
        {
            total += w;
        }
        var r = NextDouble() * total;
        for (var i = 0; i < weights.Length; i++)
        {
            r -= weights[i];
            if (r < 0)
            {
                return i;
            }
        }
        return weights.Length - 1;
    }
}
