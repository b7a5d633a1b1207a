using SemEdge.Inference.Benchmarking;

namespace SemEdge.Tests.Inference;

public class PipelineBenchmarkTests
{
    [Fact]
    public void Percentiles_use_nearest_rank()
    {
        var stats = LatencyStats.Of(Enumerable.Range(1, 100).Select(i => (double)i).Reverse().ToArray());

        Assert.Equal((50.0, 99.0, 50.5, 100), (stats.P50, stats.P99, stats.Mean, stats.Count));
        Assert.Equal(7.0, LatencyStats.Of([7.0]).P99);
    }

    [Fact]
    public void Benchmark_reports_every_stage_per_image_group_and_zero_allocations_per_inference_run()
    {
        BenchImage[] images =
        [
            new("a.png", Fixtures.GridPng(0, 3), "512x512"),
            new("b.png", Fixtures.GridPng(128, 6), "512x512"),
        ];
        var config = new BenchConfig("fp32 cascade 1 thread", Fixtures.Classifier, Fixtures.Screen, 1, "fp32");

        var result = Assert.Single(new PipelineBenchmark(iterations: 2, rawRuns: 20).Run(config, images, CancellationToken.None));

        Assert.Equal(("512x512", 4, true, "cpu"), (result.Group, result.Images, result.Cascade, result.Provider));
        Assert.Equal(0.5, result.ShortCircuitedShare);
        Assert.True(result.Decode.P50 > 0 && result.Preprocess.P50 > 0 && result.Inference.P50 > 0 && result.RawInference.P50 > 0);
        Assert.True(result.Total.P50 >= result.Decode.P50);
        Assert.True(result.InferenceAllocatedBytesPerRun < 64, $"{result.InferenceAllocatedBytesPerRun} B per run");
        Assert.Equal(result.Total.P50 / (result.Decode.P50 + result.RawInference.P50), result.PipelineOverDecodePlusRaw, 1e-9);
    }

    [Fact]
    public void Streams_side_by_side_each_inspect_every_image_and_count_together()
    {
        BenchImage[] images =
        [
            new("a.png", Fixtures.GridPng(0, 3), "512x512"),
            new("b.png", Fixtures.GridPng(128, 6), "512x512"),
            new("c.png", Fixtures.GridPng(64, 4), "512x512"),
        ];
        var config = new BenchConfig("fp32 cascade 1 thread x 2 streams", Fixtures.Classifier, Fixtures.Screen, 1, "fp32", Streams: 2);

        var result = Assert.Single(new PipelineBenchmark(iterations: 2, rawRuns: 5).Run(config, images, CancellationToken.None));

        // 2 streams x 2 passes x 3 images, each stream over the whole set: the screen's share is the set's.
        Assert.Equal(("512x512", 12, 2, 1), (result.Group, result.Images, result.Streams, result.Threads));
        var single = Assert.Single(new PipelineBenchmark(iterations: 2, rawRuns: 5).Run(config with { Streams = 1 }, images, CancellationToken.None));
        Assert.Equal(single.ShortCircuitedShare, result.ShortCircuitedShare, 1e-12);
        Assert.True(result.ImagesPerSecond > 0 && result.Total.P50 >= result.Decode.P50);
    }

    [Fact]
    public void Decode_comparison_times_both_decoders_on_every_image_of_each_group()
    {
        BenchImage[] images =
        [
            new("a.png", Fixtures.GridPng(0, 3), "512x512"),
            new("b.png", Fixtures.GridPng(128, 6), "512x512"),
            new("c.png", SemEdge.Imaging.PngGray.Encode(new byte[64 * 48], 64, 48), "64x48"),
        ];

        var comparisons = new PipelineBenchmark(iterations: 3, rawRuns: 1).CompareDecoders(images, CancellationToken.None);

        Assert.Equal([("512x512", 6), ("64x48", 3)], comparisons.Select(c => (c.Group, c.Images)));
        Assert.All(comparisons, c =>
        {
            Assert.True(c.DaemonPath.P50 > 0 && c.SkiaOnly.P50 > 0);
            Assert.Equal((c.DaemonPath.Count, c.SkiaOnly.Count), (c.Images, c.Images));
            Assert.Equal(c.DaemonPath.P50 / c.SkiaOnly.P50, c.DaemonOverSkia, 1e-12);
        });
    }

    [Fact]
    public void Cascade_on_a_stream_sits_beside_the_one_thread_single_stage_row_of_its_format()
    {
        var results = new[]
        {
            Row("int8 1 thread", "stream", false, 1, "int8", mean: 6),
            Row("int8 2 threads", "stream", false, 2, "int8", mean: 4),
            Row("int8 cascade 1 thread", "stream", true, 1, "int8", mean: 2, screened: 0.9),
            Row("fp32 1 thread", "stream", false, 1, "fp32", mean: 9),
            Row("int8 cascade 1 thread", "512x512", true, 1, "int8", mean: 5),
        };

        var c = PipelineBenchmark.CascadeOnStream(results, "stream")!;

        Assert.Equal(("int8 1 thread", "int8 cascade 1 thread", 6.0, 2.0, 0.9), (c.SingleStage, c.Cascade, c.SingleStageMeanMs, c.CascadeMeanMs, c.ScreenedShare));
        Assert.Equal(2.0 / 6, c.CascadeOverSingleStage, 1e-12);
        Assert.Null(PipelineBenchmark.CascadeOnStream(results.Where(r => !r.Cascade).ToList(), "stream"));
        Assert.Null(PipelineBenchmark.CascadeOnStream(results, "1024x1024"));
    }

    private static BenchResult Row(string config, string group, bool cascade, int threads, string format, double mean, double screened = 0)
    {
        var stats = new LatencyStats(mean, mean * 2, mean, 10);
        return new BenchResult
        {
            Config = config, Group = group, Format = format, Cascade = cascade, Threads = threads, Provider = "cpu", Images = 10,
            Decode = stats, Preprocess = stats, Inference = stats, Total = stats, RawInference = stats, ImagesPerSecond = 1000 / mean,
            PipelineOverRaw = 1, PipelineOverDecodePlusRaw = 1, AllocatedBytesPerImage = 0, InferenceAllocatedBytesPerRun = 0,
            Gen0Collections = 0, Gen1Collections = 0, Gen2Collections = 0, ShortCircuitedShare = screened,
        };
    }
}
