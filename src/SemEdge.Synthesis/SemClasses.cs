namespace SemEdge.Synthesis;

/// <summary>
/// The ten inspection classes in model output order. The order is part of the model contract: index i of
/// the classifier output is <c>Names[i]</c>.
/// </summary>
public static class SemClasses
{
    public const string Clean = "clean";
    public const string Bridge = "bridge";
    public const string Cmp = "cmp";
    public const string Crack = "crack";
    public const string Ler = "ler";
    public const string Open = "open";
    public const string Particle = "particle";
    public const string Scratch = "scratch";
    public const string Vias = "vias";
    public const string Other = "other";

    public static IReadOnlyList<string> Names { get; } =
        [Clean, Bridge, Cmp, Crack, Ler, Open, Particle, Scratch, Vias, Other];

    public static int IndexOf(string name)
    {
        for (var i = 0; i < Names.Count; i++)
        {
            if (string.Equals(Names[i], name, StringComparison.Ordinal))
            {
                return i;
            }
        }
        return -1;
    }

    public static bool IsKnown(string name) => IndexOf(name) >= 0;
}
