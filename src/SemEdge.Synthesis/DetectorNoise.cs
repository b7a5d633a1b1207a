namespace SemEdge.Synthesis;

/// <summary>
/// What the detector and scan add after the beam: brightness/contrast setting and drift, charging
/// gradients, shot noise, scan-line offsets and line jitter. Every term is drawn from the nuisance
/// stream and is pointwise in the signal (row jitter moves at most <see cref="MaxRowShift"/> px), so the
/// same seed gives the same nuisance with or without a defect.
/// </summary>
public sealed class DetectorNoise
{
    public const int MaxRowShift = 1;

    private readonly float _gain;
    private readonly float _offset;
    private readonly float _driftY;
    private readonly float _chargingAmp;
    private readonly double _chargingScale;
    private readonly float _rampX;
    private readonly float _rampY;
    private readonly float _shot;
    private readonly float _read;
    private readonly float _rowNoise;
    private readonly float _rowGainNoise;
    private readonly double _rowShiftChance;
    private readonly ulong _key;

    public DetectorNoise(SynthRandom rng, double scale, (double Min, double Max) contrast)
    {
        _gain = (float)rng.Uniform(contrast.Min, contrast.Max);
        _offset = (float)rng.Uniform(-0.12, 0.12);
        _driftY = (float)rng.Uniform(-0.25, 0.25);
        _chargingAmp = (float)(rng.Chance(0.7) ? rng.Uniform(0.03, 0.18) : 0);
        _chargingScale = rng.Uniform(120, 400) * scale;
        _rampX = (float)rng.Uniform(-0.12, 0.12);
        _rampY = (float)rng.Uniform(-0.12, 0.12);
        _shot = (float)rng.LogUniform(0.035, 0.15);
        _read = (float)rng.Uniform(0.005, 0.03);
        _rowNoise = (float)rng.LogUniform(0.003, 0.04);
        _rowGainNoise = (float)rng.Uniform(0, 0.04);
        _rowShiftChance = rng.Chance(0.3) ? rng.Uniform(0.01, 0.08) : 0;
        _key = rng.NextUInt64();
    }

    /// <summary>The detector's contrast setting: how strongly a change of the signal shows in the picture.</summary>
    public double Gain => _gain;

    public void Apply(FloatImage signal)
    {
        var w = signal.Width;
        var h = signal.Height;
        var rows = new SynthRandom(_key);
        var rowOffset = new float[h];
        var rowGain = new float[h];
        var rowShift = new int[h];
        for (var y = 0; y < h; y++)
        {
            rowOffset[y] = (float)(rows.Gaussian() * _rowNoise);
            rowGain[y] = 1 + (float)(rows.Gaussian() * _rowGainNoise);
            rowShift[y] = rows.Chance(_rowShiftChance) ? rows.Sign() : 0;
        }
        var charging = _chargingAmp > 0 ? Noise.Field(_key ^ 0xC3A5C85C97CB3127UL, w, h, _chargingScale, 2) : null;
        var pixels = new SynthRandom(_key ^ 0x2545F4914F6CDD1DUL);
        var src = signal.Data;
        var dst = new float[src.Length];
        var z = new float[w + 2];
        for (var y = 0; y < h; y++)
        {
            // Shot noise is slightly correlated along the scan (detector bandwidth): smooth it along x.
            for (var x = 0; x < z.Length; x++)
            {
                z[x] = ApproxGaussian(pixels);
            }
            var gainY = _gain * (1 + _driftY * ((float)y / h - 0.5f));
            for (var x = 0; x < w; x++)
            {
                var sx = Math.Clamp(x + rowShift[y], 0, w - 1);
                var v = src[y * w + sx] * gainY + _offset;
                v += _rampX * ((float)x / w - 0.5f) + _rampY * ((float)y / h - 0.5f);
                if (charging is not null)
                {
                    v += _chargingAmp * charging.Data[y * w + x];
                }
                var zz = (0.5f * z[x + 1] + 0.25f * (z[x] + z[x + 2])) * 1.633f;
                v += zz * _shot * MathF.Sqrt(Math.Max(v, 0.01f)) + _read * z[x + 1];
                dst[y * w + x] = v * rowGain[y] + rowOffset[y];
            }
        }
        dst.AsSpan().CopyTo(src);
    }

    /// <summary>Sum of four uniforms, centred and scaled: close enough to normal for sensor noise, and fast.</summary>
    private static float ApproxGaussian(SynthRandom rng)
    {
        var u = rng.NextUInt64();
        var sum = (u & 0xFFFF) + ((u >> 16) & 0xFFFF) + ((u >> 32) & 0xFFFF) + (u >> 48);
        return (sum / 65535f - 2f) * 1.7320508f;
    }

    public static byte[] Quantise(FloatImage signal)
    {
        var bytes = new byte[signal.Data.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)Math.Clamp((int)MathF.Round(signal.Data[i] * 255f), 0, 255);
        }
        return bytes;
    }
}
