using SemEdge.Cli;
using SkiaSharp;

namespace SemEdge.Tests.Cli;

/// <summary><c>semedge demo</c> end to end: synthesised images, the shipped models, img2webp (Debian's webp package).</summary>
public sealed class DemoCommandTests : IDisposable
{
    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Two_runs_with_the_same_seed_write_the_same_bytes_and_each_frame_is_framed_in_its_action_colour()
    {
        string[] Args(string output) => ["demo", "--out", output, "--count", "4", "--size", "96", "--seed", "5", "--frame-ms", "500"];
        Assert.Equal(SemEdgeCli.ExitOk, await WorkstationCli.RunAsync(Args(_root.Combine("a")), CancellationToken.None));
        Assert.Equal(SemEdgeCli.ExitOk, await WorkstationCli.RunAsync(Args(_root.Combine("b")), CancellationToken.None));

        var first = Files(_root.Combine("a"));
        var second = Files(_root.Combine("b"));
        Assert.Equal(first.Keys, second.Keys);
        Assert.Contains("slideshow.webp", first.Keys);
        Assert.Contains("contact-sheet.png", first.Keys);
        Assert.Equal(4, first.Keys.Count(k => k.StartsWith("frames/", StringComparison.Ordinal)));
        foreach (var (name, bytes) in first)
        {
            Assert.True(bytes.AsSpan().SequenceEqual(second[name]), $"{name} differs between two runs");
        }

        // Animated WebP: RIFF....WEBP with an ANIM chunk.
        var webp = first["slideshow.webp"];
        Assert.Equal("RIFF", System.Text.Encoding.ASCII.GetString(webp, 0, 4));
        Assert.Contains("ANIM", System.Text.Encoding.ASCII.GetString(webp, 0, Math.Min(webp.Length, 64)), StringComparison.Ordinal);

        var rows = File.ReadAllLines(_root.Combine("a", "verdicts.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Equal(4, rows.Count);
        foreach (var row in rows)
        {
            using var frame = SKBitmap.Decode(first["frames/" + row[0]]);
            Assert.Equal((96 + 8, 96 + 8 + 44), (frame.Width, frame.Height));
            var corner = frame.GetPixel(0, 0);
            var expected = row[4] switch
            {
                "pass" => new SKColor(46, 157, 79),
                "reject" => new SKColor(210, 60, 60),
                "review" => new SKColor(224, 161, 0),
                _ => throw new InvalidOperationException($"unknown action {row[4]}"),
            };
            Assert.Equal(expected, corner);
        }
    }

    private static Dictionary<string, byte[]> Files(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(folder, f).Replace('\\', '/'), File.ReadAllBytes);
}
