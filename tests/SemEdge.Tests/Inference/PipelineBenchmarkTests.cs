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
}
