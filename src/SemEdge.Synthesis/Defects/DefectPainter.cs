namespace SemEdge.Synthesis.Defects;

/// <summary>Draws one class's defect into a scene, from the defect stream only.</summary>
public static class DefectPainter
{
    /// <summary>
    /// Paints the defect; <paramref name="size"/> scales it (and every length it draws) against the legacy
    /// generator's defects, which were drawn at size 1.
    /// </summary>
    public static void Paint(string className, Scene scene, SynthRandom rng, double size = 1)
    {
        var scale = Math.Min(scene.Width, scene.Height) / 512.0 * size;
        if (scene.CrossSection is { } section)
        {
            SectionDefects.Paint(className, scene, section, rng, scale);
            return;
        }
        switch (className)
        {
            case SemClasses.Clean:
                break;
            case SemClasses.Bridge:
                LineDefects.Bridge(scene, rng, scale);
                break;
            case SemClasses.Open:
                LineDefects.Open(scene, rng, scale);
                break;
            case SemClasses.Ler:
                LineDefects.Roughness(scene, rng, scale);
                break;
            case SemClasses.Crack:
                Fractures.Crack(scene, rng, scale);
                break;
            case SemClasses.Scratch:
                Fractures.Scratch(scene, rng, scale);
                break;
            case SemClasses.Particle:
                Particles.Paint(scene, rng, scale);
                break;
            case SemClasses.Cmp:
                PolishDefects.Paint(scene, rng, scale);
                break;
            case SemClasses.Vias:
                ViaDefects.Paint(scene, rng, scale);
                break;
            case SemClasses.Other:
                Anomalies.Paint(scene, rng, scale);
                break;
            default:
                throw new ArgumentException($"unknown class '{className}'", nameof(className));
        }
    }

    /// <summary>A line site, or an exception naming the layout problem (the scene builder guarantees lines).</summary>
    internal static LineSite RequireLine(Scene scene, SynthRandom rng, double margin) =>
        DefectSites.OnLine(scene, rng, margin) ?? DefectSites.OnLine(scene, rng, 0)
        ?? throw new DefectNotPlacedException("no grating line inside the live area for a line defect");
}
