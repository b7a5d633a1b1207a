using SemEdge.Imaging;
using SemEdge.Inference.Benchmarking;
using SemEdge.Synthesis;

namespace SemEdge.Cli;

/// <summary>
/// The default bench images: synthetic SEM frames cycling through every class at each size, PNG-encoded in
/// memory (the daemon's input format), from fixed seeds so runs are comparable.
/// </summary>
internal static class BenchImages
{
    public static IReadOnlyList<BenchImage> Synthesize(IReadOnlyList<int> sizes, int perSize)
    {
        var images = new List<BenchImage>();
        foreach (var size in sizes)
        {
            for (var i = 0; i < perSize; i++)
            {
                var className = SemClasses.Names[i % SemClasses.Names.Count];
                var spec = new SampleSpec((ulong)((size * 10_000) + i), className, size, size);
                var png = SemImageGenerator.RenderSample(spec).Image.EncodePng();
                images.Add(new BenchImage($"{className}-{size}-{i}.png", png, $"{size}x{size}"));
            }
        }

        return images;
    }

    /// <summary>What the workstation's bench command synthesises its default images with.</summary>
    public static SyntheticBenchImages Generator { get; } = new(Synthesize, CleanHeavy);

    /// <summary>
    /// A clean-heavy stream, as a fab line sends it: <see cref="BenchCommand.CleanHeavyCleanShare"/> clean, the rest defects of
    /// every class in turn, spread evenly through the stream, drawn by the generator from fixed seeds.
    /// </summary>
    public static IReadOnlyList<BenchImage> CleanHeavy(int count)
    {
        var defects = Math.Max(1, (int)Math.Round(count * (1 - BenchCommand.CleanHeavyCleanShare)));
        var defectAt = Enumerable.Range(0, defects).Select(k => (int)((k + 0.5) * count / defects)).ToHashSet();
        var defectClasses = SemClasses.Names.Where(n => n != SemClasses.Clean).ToArray();
        var images = new List<BenchImage>();
        var nextDefect = 0;
        for (var i = 0; i < count; i++)
        {
            var className = defectAt.Contains(i) ? defectClasses[nextDefect++ % defectClasses.Length] : SemClasses.Clean;
            var spec = new SampleSpec(0xC1EA_0000UL + (ulong)i, className, BenchCommand.CleanHeavySize, BenchCommand.CleanHeavySize);
            var png = SemImageGenerator.RenderSample(spec).Image.EncodePng();
            images.Add(new BenchImage($"stream-{i:D4}-{className}.png", png, BenchCommand.CleanHeavyGroup));
        }

        return images;
    }
}
