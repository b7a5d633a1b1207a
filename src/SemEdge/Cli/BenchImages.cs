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
                var png = PngGray.Encode(SemImageGenerator.RenderSample(spec).Image);
                images.Add(new BenchImage($"{className}-{size}-{i}.png", png, $"{size}x{size}"));
            }
        }

        return images;
    }
}
