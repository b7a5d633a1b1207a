namespace SemEdge.Synthesis;

/// <summary>
/// How the secondary-electron signal forms from the scene: material yield, the bright edge effect on
/// slopes, darker trench floors (electrons from deep, narrow spaces are absorbed by the walls), the tilted
/// view's lit sidewalls and cast shadows, and the beam spot (blur, astigmatism, defocus).
/// Every stage has a finite reach, summed in <see cref="InfluenceRadius"/>; a change to the scene can
/// therefore only change the image within that many pixels, which is what makes the defect box exact.
/// </summary>
public sealed record BeamOptics(
    double EdgeSigma,
    float EdgeGain,
    double TrenchSigma,
    float TrenchDarkening,
    double BeamSigmaX,
    double BeamSigmaY,
    int SidewallLength,
    float SidewallGain,
    int ShadowLength,
    float ShadowSlope,
    float ShadowDepth)
{
    public static BeamOptics Draw(SynthRandom rng, SemView view, double scale)
    {
        var defocus = rng.Chance(0.2) ? rng.Uniform(0.8, 2.0) : 0;
        var beam = rng.Uniform(0.6, 1.5) * scale;
        var astig = rng.Chance(0.25) ? rng.Uniform(0.7, 1.4) : 1;
        var tilted = view == SemView.Tilted;
        return new BeamOptics(
            EdgeSigma: rng.Uniform(0.8, 1.6) * scale,
            EdgeGain: (float)(view == SemView.CrossSection ? rng.Uniform(0.08, 0.25) : rng.Uniform(0.18, 0.5)),
            TrenchSigma: rng.Uniform(3, 6) * scale,
            TrenchDarkening: (float)(view == SemView.CrossSection ? 0 : rng.Uniform(0.05, 0.25)),
            BeamSigmaX: Math.Sqrt(beam * beam + defocus * defocus) * astig,
            BeamSigmaY: Math.Sqrt(beam * beam + defocus * defocus) / astig,
            SidewallLength: tilted ? (int)Math.Round(rng.Uniform(3, 9) * scale) : 0,
            SidewallGain: tilted ? (float)rng.Uniform(0.15, 0.35) : 0,
            ShadowLength: tilted ? (int)Math.Round(24 * scale) : 0,
            ShadowSlope: tilted ? (float)(rng.Uniform(0.12, 0.3) / scale) : 0,
            ShadowDepth: tilted ? (float)rng.Uniform(0.1, 0.3) : 0);
    }

    /// <summary>How far (px) a change in the scene can reach in the final image.</summary>
    public int InfluenceRadius
    {
        get
        {
            var signal = Math.Max(FloatImage.KernelRadius(EdgeSigma) + 1, FloatImage.KernelRadius(TrenchSigma));
            signal = Math.Max(signal, SidewallLength + 1);
            signal = Math.Max(signal, ShadowLength);
            var beam = Math.Max(FloatImage.KernelRadius(BeamSigmaX), FloatImage.KernelRadius(BeamSigmaY));
            return signal + beam + DetectorNoise.MaxRowShift;
        }
    }

    /// <summary>The noise-free, blurred signal in roughly [0, 1].</summary>
    public FloatImage Image(Scene scene)
    {
        var w = scene.Width;
        var h = scene.Height;
        var topo = scene.Topography;
        var smooth = topo.Clone();
        smooth.GaussianBlur(EdgeSigma, EdgeSigma);
        var broad = topo.Clone();
        broad.GaussianBlur(TrenchSigma, TrenchSigma);
        var signal = scene.Material.Clone();
        var s = signal.Data;
        var edgeNorm = (float)(EdgeSigma * 2.5);
        for (var y = 0; y < h; y++)
        {
            var ym = Math.Max(y - 1, 0);
            var yp = Math.Min(y + 1, h - 1);
            for (var x = 0; x < w; x++)
            {
                var xm = Math.Max(x - 1, 0);
                var xp = Math.Min(x + 1, w - 1);
                var gx = (smooth[xp, y] - smooth[xm, y]) * 0.5f;
                var gy = (smooth[x, yp] - smooth[x, ym]) * 0.5f;
                var slope = MathF.Sqrt(gx * gx + gy * gy) * edgeNorm;
                var i = y * w + x;
                var t = Math.Clamp(topo.Data[i], -1f, 1.5f);
                var trench = Math.Max(0, Math.Clamp(broad.Data[i], -1f, 1.5f) - t);
                s[i] += EdgeGain * Math.Min(slope, 1.6f) - TrenchDarkening * trench;
            }
        }
        if (SidewallLength > 0)
        {
            AddTiltRelief(topo, signal);
        }
        signal.GaussianBlur(BeamSigmaX, BeamSigmaY);
        return signal;
    }

    /// <summary>
    /// Tilted stage: walls facing the detector (rising towards the bottom of the frame) are seen side-on
    /// and glow over a band; tall things shadow what lies behind them along the tilt axis.
    /// </summary>
    private void AddTiltRelief(FloatImage topo, FloatImage signal)
    {
        var w = topo.Width;
        var h = topo.Height;
        var t = topo.Data;
        var s = signal.Data;
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                // A wall whose top edge lies just above this pixel faces the viewer and is seen over a band.
                var drop = 0f;
                for (var d = 0; d < SidewallLength && y - d - 1 >= 0; d++)
                {
                    drop = Math.Max(drop, t[(y - d - 1) * w + x] - t[(y - d) * w + x]);
                }
                var here = t[y * w + x];
                var shadow = 0f;
                for (var d = 1; d <= ShadowLength && y - d >= 0; d++)
                {
                    var occluder = t[(y - d) * w + x] - d * ShadowSlope;
                    shadow = Math.Max(shadow, occluder - here);
                }
                s[y * w + x] += SidewallGain * Math.Min(drop, 1.5f) - ShadowDepth * Math.Min(shadow, 1.5f);
            }
        }
    }
}
