namespace SemEdge.Synthesis;

/// <summary>
/// How large and how strong one image's defect is drawn, from the defect stream. Subtle defects are the legacy
/// generator's (growing a little with the pattern's magnification); large ones are drawn two to three times
/// bigger, so they fill 5 to 30 % of the frame (a crack across the field, a big particle), and with their contrast
/// against the surroundings raised, as in much published review imagery.
/// </summary>
public static class Prominence
{
    /// <summary>
    /// Share of large defects in the <see cref="DefectProminence.Mixed"/> setting: subtle ones stay, as a minority
    /// (a class a person cannot name from the picture is noise to the model).
    /// </summary>
    public const double MixedLargeShare = 0.65;

    public static (double Size, double Gain) Draw(SynthRandom rng, DefectProminence prominence, double magnification)
    {
        var large = prominence switch
        {
            DefectProminence.Large => true,
            DefectProminence.Subtle => false,
            _ => rng.Chance(MixedLargeShare),
        };
        var subtleSize = Math.Clamp(Math.Sqrt(magnification), 1, 1.6);
        return large ? (rng.LogUniform(1.8, 3.2), rng.Uniform(1.15, 1.8)) : (subtleSize, 1);
    }

    /// <summary>Scales the change a defect made to the material (<paramref name="after"/> minus <paramref name="before"/>) by <paramref name="gain"/>.</summary>
    public static void Amplify(FloatImage before, FloatImage after, double gain)
    {
        if (gain == 1)
        {
            return;
        }
        var g = (float)gain;
        var b = before.Data;
        var a = after.Data;
        for (var i = 0; i < a.Length; i++)
        {
            var d = a[i] - b[i];
            if (d != 0)
            {
                a[i] = b[i] + g * d;
            }
        }
    }
}
