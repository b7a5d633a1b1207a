namespace SemEdge.Synthesis.Defects;

/// <summary>
/// CMP defects over dense pattern: dishing and erosion (the pattern's relief and brightness change over a
/// broad patch) and slurry residue (a streaky film smeared over the pattern). Unlike charging, which is
/// smooth and pattern-blind, these change the pattern itself and have an edge.
/// </summary>
internal static class PolishDefects
{
    public static void Paint(Scene scene, SynthRandom rng, double scale)
    {
        var radius = DefectSites.FitInFrame(scene, rng.LogUniform(45, 210) * scale);
        var (cx, cy) = DefectSites.Point(scene, rng, radius * 0.4);
        var aspect = rng.Uniform(0.45, 1.0);
        var angle = rng.Uniform(0, Math.PI);
        // A sharp-edged patch reads as a defect; a soft one fades like charging, so soft edges are the minority.
        var softness = rng.Chance(0.25) ? rng.Uniform(0.25, 0.45) : rng.Uniform(0.06, 0.2);
        var key = rng.NextUInt64();
        var kind = rng.Pick([0.35, 0.25, 0.4]);
        var flatten = (float)rng.Uniform(0.5, 0.9);
        var tone = (float)(rng.Uniform(0.12, 0.28) * rng.Sign());
        var smearAngle = rng.Uniform(0, Math.PI);
        var smearScale = rng.Uniform(6, 20) * scale;
        var (ca, sa) = (Math.Cos(angle), Math.Sin(angle));
        var (cs, ss) = (Math.Cos(smearAngle), Math.Sin(smearAngle));
        var rect = PixelRect.Around(cx, cy, radius * 1.35 + 2).Intersect(scene.LiveArea);
        for (var y = rect.Y0; y < rect.Y1; y++)
        {
            for (var x = rect.X0; x < rect.X1; x++)
            {
                var dx = x - cx;
                var dy = y - cy;
                var u = (dx * ca + dy * sa) / radius;
                var v = (-dx * sa + dy * ca) / (radius * aspect);
                var rho = Math.Sqrt(u * u + v * v) / (1 + 0.3 * Noise.Fbm2(key, x, y, radius * 0.5, 2));
                if (rho >= 1)
                {
                    continue;
                }
                var m = (float)Math.Clamp((1 - rho) / softness, 0, 1);
                m = m * m * (3 - 2 * m);
                var h = scene.Topography[x, y];
                switch (kind)
                {
                    case 0:
                        // Dishing: line tops sink and lose their edges; the metal reads darker or brighter.
                        scene.SetSurface(x, y, h * (1 - flatten * m) + 0.15f * flatten * m);
                        scene.Material[x, y] += tone * m * h;
                        break;
                    case 1:
                        // Erosion: the whole dense area is thinned; pattern and field shift together.
                        scene.SetSurface(x, y, h + (0.5f - h) * flatten * 0.6f * m);
                        scene.Material[x, y] += tone * m;
                        break;
                    default:
                        // Residue: a streaky film, stretched along the smear direction.
                        var along = dx * cs + dy * ss;
                        var across = -dx * ss + dy * cs;
                        var streak = 0.5f + 0.5f * Noise.Fbm2(key ^ 0x5DEECE66DUL, along * 0.15, across, smearScale, 3);
                        var film = m * streak;
                        scene.SetSurface(x, y, h + (0.55f - h) * flatten * film);
                        scene.Material[x, y] += Math.Abs(tone) * 1.3f * film * (tone > 0 ? 1 : -0.6f);
                        break;
                }
            }
        }
    }
}
