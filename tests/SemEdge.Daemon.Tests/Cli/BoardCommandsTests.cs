using SemEdge.Cli;
using SemEdge.Tests.Inference;

namespace SemEdge.Tests.Cli;

/// <summary>The board's command line: the daemon's commands only, and a bench that needs images brought to it.</summary>
public class BoardCommandsTests
{
    [Fact]
    public void The_board_has_the_commands_a_board_needs_and_no_others()
    {
        var root = SemEdgeCli.Build(SemEdgeCli.BoardCommands(benchImages: null));

        Assert.Equal(["bench", "classify", "doctor", "run"], root.Subcommands.Select(c => c.Name).Order());
    }

    [Fact]
    public void Bench_without_a_generator_asks_for_images()
    {
        var ex = Assert.Throws<UsageException>(() => BenchCommand.Run(new BenchCommand.BenchRequest(null, Fixtures.Classifier, null, null, 1, 5, 1),
            generator: null, TextWriter.Null, TextWriter.Null, CancellationToken.None));

        Assert.Contains("--images", ex.Message);
    }

    // Benchmarks a model: slow, so scripts/test --fast leaves it out.
    [Fact]
    [Trait("Category", "Slow")]
    public void Bench_without_a_generator_leaves_the_clean_heavy_stream_out_and_says_so()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(Path.Combine(dir.Path, "x.png"), Fixtures.GridPng(0, 1));
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = BenchCommand.Run(new BenchCommand.BenchRequest(dir.Path, Fixtures.Classifier, null, null, 1, 5, 1, CleanHeavy: 20),
            generator: null, output, error, CancellationToken.None);

        Assert.Equal(SemEdgeCli.ExitOk, exit);
        Assert.Contains("clean-heavy stream is left out", error.ToString());
        Assert.DoesNotContain(BenchCommand.CleanHeavyGroup, output.ToString());
    }
}
