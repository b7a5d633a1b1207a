using System.Text.Json;
using SemEdge.Cli;
using SemEdge.Tests.Inference;

namespace SemEdge.Tests.Cli;

// Benchmarks run many passes over synthesised images: slow, so scripts/test --fast leaves them out.
[Trait("Category", "Slow")]
public class BenchCommandTests
{
    [Fact]
    public void Bench_command_on_a_folder_prints_a_table_and_writes_json()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(Path.Combine(dir.Path, "x.png"), Fixtures.GridPng(0, 1));
        var jsonPath = Path.Combine(dir.Path, "out", "bench.json");
        var output = new StringWriter();

        var exit = BenchCommand.Run(new BenchCommand.BenchRequest(dir.Path, Fixtures.Classifier, null, jsonPath, 1, 5, 1), BenchImages.Generator,
            output, TextWriter.Null, CancellationToken.None);

        Assert.Equal(SemEdgeCli.ExitOk, exit);
        Assert.Contains("fp32 1 thread", output.ToString());
        Assert.Contains("slowest stage for 512x512", output.ToString());
        var report = JsonDocument.Parse(File.ReadAllText(jsonPath)).RootElement;
        var results = report.GetProperty("results");
        Assert.Equal(2, results[1].GetProperty("threads").GetInt32());
        // On a machine with more than one core, one stream per core side by side (CI and the board have several).
        var cores = Environment.ProcessorCount;
        Assert.Equal(cores > 1 ? 3 : 2, results.GetArrayLength());
        if (cores > 1)
        {
            Assert.Equal((cores, 1), (results[2].GetProperty("streams").GetInt32(), results[2].GetProperty("threads").GetInt32()));
            Assert.Equal($"fp32 1 thread x {cores} streams", results[2].GetProperty("config").GetString());
        }
        Assert.Matches(@"decode 512x512 \(1 decodes each, in turn\): daemon path p50 [0-9.]+ ms, p99 [0-9.]+ ms \| Skia alone p50 [0-9.]+ ms", output.ToString());
        var decode = Assert.Single(report.GetProperty("decodePaths").EnumerateArray());
        Assert.True(decode.GetProperty("daemonOverSkia").GetDouble() > 0);
    }

    [Fact]
    public void Fp32_model_beside_the_int8_one_adds_a_comparison_row()
    {
        using var dir = new TempFolder();
        foreach (var variant in new[] { "int8", "fp32" })
        {
            File.WriteAllText(Path.Combine(dir.Path, $"classifier.{variant}.json"),
                File.ReadAllText(Fixtures.Classifier).Replace("\"format\": \"fp32\"", $"\"format\": \"{(variant == "int8" ? "int8-qdq" : "fp32")}\""));
        }

        var configs = BenchCommand.Configs(Path.Combine(dir.Path, "classifier.int8.json"), Fixtures.Screen, cores: 1);

        Assert.Equal(["int8-qdq 1 thread", "int8-qdq 2 threads", "int8-qdq cascade 1 thread", "fp32 1 thread"], configs.Select(c => c.Name));
        Assert.EndsWith("classifier.fp32.json", configs[^1].ClassifierManifest);
    }

    [Fact]
    public void With_several_cores_the_one_thread_rows_also_run_one_stream_per_core()
    {
        var configs = BenchCommand.Configs(Fixtures.Classifier, Fixtures.Screen, cores: 4);

        Assert.Equal(
            [("fp32 1 thread", 1), ("fp32 2 threads", 1), ("fp32 1 thread x 4 streams", 4), ("fp32 cascade 1 thread", 1), ("fp32 cascade 1 thread x 4 streams", 4)],
            configs.Select(c => (c.Name, c.Streams)));
        Assert.All(configs.Where(c => c.Streams > 1), c => Assert.Equal(1, c.Threads));
    }

    [Fact]
    public void Default_bench_images_are_synthetic_pngs_of_each_size()
    {
        var images = BenchImages.Synthesize([512, 1024], 2);

        Assert.Equal(["512x512", "512x512", "1024x1024", "1024x1024"], images.Select(i => i.Group));
        var decoded = new SemEdge.Imaging.DecodedImage();
        new SemEdge.Imaging.ImageDecoder().Decode(images[2].Bytes, decoded);
        Assert.Equal((1024, 1024), (decoded.Width, decoded.Height));
        Assert.NotEqual(images[0].Bytes, images[1].Bytes);
    }

    [Fact]
    public void Clean_heavy_stream_is_95_percent_clean_with_defects_spread_through_it()
    {
        var stream = BenchImages.CleanHeavy(40);

        Assert.Equal(40, stream.Count);
        Assert.All(stream, i => Assert.Equal(BenchCommand.CleanHeavyGroup, i.Group));
        var defects = stream.Select((image, index) => (image, index)).Where(x => !x.image.Name.EndsWith("-clean.png", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, defects.Count);
        Assert.True(defects[1].index - defects[0].index >= 10, "the defects bunch together");
        Assert.Equal(stream.Select(i => i.Bytes), BenchImages.CleanHeavy(40).Select(i => i.Bytes));
    }

    [Fact]
    public void Bench_with_a_screen_prints_the_cascade_beside_the_single_stage_on_the_clean_heavy_stream()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(Path.Combine(dir.Path, "x.png"), Fixtures.GridPng(0, 1));
        var jsonPath = Path.Combine(dir.Path, "bench.json");
        var output = new StringWriter();

        var exit = BenchCommand.Run(new BenchCommand.BenchRequest(dir.Path, Fixtures.Classifier, Fixtures.Screen, jsonPath, 1, 5, 1, CleanHeavy: 20), BenchImages.Generator,
            output, TextWriter.Null, CancellationToken.None);

        Assert.Equal(SemEdgeCli.ExitOk, exit);
        var text = output.ToString();
        Assert.Contains($"{BenchCommand.CleanHeavyGroup} stream (20 images, 95% clean): fp32 1 thread mean", text);
        Assert.Contains("| fp32 cascade 1 thread mean", text);
        var comparison = JsonDocument.Parse(File.ReadAllText(jsonPath)).RootElement.GetProperty("cleanHeavy");
        Assert.Equal(20, comparison.GetProperty("images").GetInt32());
        var ratio = comparison.GetProperty("cascadeOverSingleStage").GetDouble();
        Assert.Equal(comparison.GetProperty("cascadeMeanMs").GetDouble() / comparison.GetProperty("singleStageMeanMs").GetDouble(), ratio, 1e-9);
    }

    [Fact]
    public void Negative_clean_heavy_count_is_a_usage_error()
    {
        Assert.Throws<UsageException>(() => BenchCommand.Run(new BenchCommand.BenchRequest(null, Fixtures.Classifier, null, null, 1, 5, 1, CleanHeavy: -1), BenchImages.Generator,
            TextWriter.Null, TextWriter.Null, CancellationToken.None));
    }
}
