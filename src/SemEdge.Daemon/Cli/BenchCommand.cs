using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SemEdge.Imaging;
using SemEdge.Inference;
using SemEdge.Inference.Benchmarking;
using Spectre.Console;

namespace SemEdge.Cli;

/// <summary>
/// <c>semedge bench</c>: per-stage latency (p50/p99), throughput, pipeline-vs-raw-inference ratios, allocations and
/// collections, for INT8 vs FP32, single stage vs cascade, and 1 vs 2 threads. Prints a table, writes JSON.
/// </summary>
public static class BenchCommand
{
    /// <summary>Share of clean images in the clean-heavy stream: a fab line is mostly clean.</summary>
    public const double CleanHeavyCleanShare = 0.95;

    /// <summary>The size of the clean-heavy stream's images.</summary>
    public const int CleanHeavySize = 512;

    public static string CleanHeavyGroup => $"clean-heavy {CleanHeavySize}x{CleanHeavySize}";

    /// <param name="generator">Makes the images when --images is not given; null in the board bundle, which has no generator.</param>
    public static Command Create(SyntheticBenchImages? generator)
    {
        var command = new Command("bench", "Benchmark decode, preprocess and inference on this machine.");
        var images = new Option<string?>("--images")
        {
            Description = generator is null
                ? "Folder of images (required here: this build has no image generator; make some with `semedge synth` on a workstation)."
                : "Folder of images (default: freshly synthesised 512x512 and 1024x1024 PNGs).",
        };
        var model = new Option<string?>("--model") { Description = "Classifier manifest (default: models/classifier.int8.json)." };
        var screen = new Option<string?>("--screen") { Description = "Screen manifest for the cascade rows (default: models/screen.int8.json when present)." };
        var json = new Option<string?>("--json") { Description = "Write the report as JSON to this file." };
        var iterations = new Option<int>("--iterations") { Description = "Passes over the image set per configuration.", DefaultValueFactory = _ => 10 };
        var rawRuns = new Option<int>("--raw-runs") { Description = "Runs of the raw-inference loop.", DefaultValueFactory = _ => 200 };
        var count = new Option<int>("--count") { Description = "Synthesised images per size.", DefaultValueFactory = _ => 5 };
        var cleanHeavy = new Option<int>("--clean-heavy")
        {
            Description = $"Images in the clean-heavy stream ({CleanHeavyCleanShare:P0} clean, {CleanHeavySize}x{CleanHeavySize}) that compares the cascade with the single stage; 0 leaves it out.",
            DefaultValueFactory = _ => 40,
        };
        foreach (var option in new Option[] { images, model, screen, json, iterations, rawRuns, count, cleanHeavy })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) =>
        {
            var request = new BenchRequest(parse.GetValue(images), parse.GetValue(model), parse.GetValue(screen), parse.GetValue(json),
                parse.GetValue(iterations), parse.GetValue(rawRuns), parse.GetValue(count), parse.GetValue(cleanHeavy));
            return Task.FromResult(Run(request, generator, Console.Out, Console.Error, ct));
        });
        return command;
    }

    internal sealed record BenchRequest(string? Images, string? Model, string? Screen, string? JsonOut, int Iterations, int RawRuns, int Count, int CleanHeavy = 0);

    internal static int Run(BenchRequest request, SyntheticBenchImages? generator, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (request.Iterations < 1 || request.RawRuns < 1 || request.Count < 1)
        {
            throw new UsageException("--iterations, --raw-runs and --count must be at least 1");
        }

        if (request.CleanHeavy is < 0 or > 10_000)
        {
            throw new UsageException($"--clean-heavy must be 0..10000 images, got {request.CleanHeavy}");
        }

        if (request.Images is { } dir && !Directory.Exists(dir))
        {
            throw new UsageException($"--images '{dir}' is not a folder");
        }

        if (request.Images is null && generator is null)
        {
            throw new UsageException("--images FOLDER is required: this build has no image generator (make images with `semedge synth` on a workstation)");
        }

        string classifier;
        try
        {
            classifier = request.Model ?? ShippedModels.Resolve(ShippedModels.ClassifierFile);
        }
        catch (FileNotFoundException ex)
        {
            error.WriteLine($"semedge bench: {ex.Message}");
            return SemEdgeCli.ExitFailed;
        }

        var screen = request.Screen ?? ShippedSibling(classifier, ShippedModels.ScreenFile, request.Model is null);
        var set = request.Images is { } folder ? LoadFolder(folder) : generator!.Synthesize([512, 1024], request.Count);
        if (set.Count == 0)
        {
            throw new UsageException($"no decodable images in '{request.Images}'");
        }

        if (request.CleanHeavy > 0 && generator is null)
        {
            error.WriteLine("semedge bench: no image generator in this build, so the clean-heavy stream is left out (run bench on a workstation for it)");
        }
        else if (request.CleanHeavy > 0)
        {
            set = [.. set, .. generator!.CleanHeavy(request.CleanHeavy)];
        }

        var configs = Configs(classifier, screen, Environment.ProcessorCount);
        var bench = new PipelineBenchmark(request.Iterations, request.RawRuns);
        var results = new List<BenchResult>();
        try
        {
            foreach (var config in configs)
            {
                error.WriteLine($"semedge bench: {config.Name} ...");
                results.AddRange(bench.Run(config, set, cancellationToken));
            }
        }
        catch (Exception ex) when (ex is ModelLoadException or FileNotFoundException or ArgumentException)
        {
            error.WriteLine($"semedge bench: {ex.Message}");
            return SemEdgeCli.ExitFailed;
        }

        error.WriteLine("semedge bench: decode, the daemon's path beside Skia alone ...");
        var decodePaths = bench.CompareDecoders(set, cancellationToken);

        var report = new BenchReport
        {
            Machine = $"{Environment.MachineName} {System.Runtime.InteropServices.RuntimeInformation.OSDescription} {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}",
            ProcessorCount = Environment.ProcessorCount,
            Runtime = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            Iterations = request.Iterations,
            Results = results,
            SlowestStage = PipelineBenchmark.SlowestStages(results),
            CleanHeavy = PipelineBenchmark.CascadeOnStream(results, CleanHeavyGroup),
            DecodePaths = decodePaths,
        };
        Render(report, output);
        if (request.JsonOut is { } path)
        {
            var full = Path.GetFullPath(path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, JsonSerializer.Serialize(report, BenchJsonContext.Default.BenchReport) + "\n");
            output.WriteLine($"report written to {full}");
        }

        return SemEdgeCli.ExitOk;
    }

    /// <summary>
    /// 1 vs 2 threads on the classifier, the cascade, and FP32 when its manifest sits beside the INT8 one; with more
    /// than one core, the one-thread classifier and cascade also run as one stream per core side by side: what the
    /// machine does on all its cores, measured rather than one core's figure multiplied.
    /// </summary>
    internal static IReadOnlyList<BenchConfig> Configs(string classifier, string? screen, int cores)
    {
        var format = ModelManifest.Load(classifier).Format;
        var configs = new List<BenchConfig>
        {
            new($"{format} 1 thread", classifier, null, 1, format),
            new($"{format} 2 threads", classifier, null, 2, format),
        };
        if (cores > 1)
        {
            configs.Add(new($"{format} 1 thread x {cores} streams", classifier, null, 1, format, Streams: cores));
        }

        if (screen is not null)
        {
            configs.Add(new($"{format} cascade 1 thread", classifier, screen, 1, format));
            if (cores > 1)
            {
                configs.Add(new($"{format} cascade 1 thread x {cores} streams", classifier, screen, 1, format, Streams: cores));
            }
        }

        var name = Path.GetFileName(classifier);
        if (name.Contains(".int8.", StringComparison.Ordinal))
        {
            var fp32 = Path.Combine(Path.GetDirectoryName(classifier)!, name.Replace(".int8.", ".fp32.", StringComparison.Ordinal));
            if (File.Exists(fp32))
            {
                configs.Add(new("fp32 1 thread", fp32, null, 1, "fp32"));
            }
        }

        return configs;
    }

    private static string? ShippedSibling(string classifier, string file, bool useShipped)
    {
        if (!useShipped)
        {
            return null;
        }

        var path = Path.Combine(Path.GetDirectoryName(classifier)!, file);
        return File.Exists(path) ? path : null;
    }

    /// <summary>Every image in the folder, held in memory and grouped by its pixel size.</summary>
    private static List<BenchImage> LoadFolder(string folder)
    {
        var decoder = new ImageDecoder();
        var decoded = new DecodedImage();
        var set = new List<BenchImage>();
        foreach (var file in ClassifyCommand.ExpandPaths([folder]))
        {
            var bytes = File.ReadAllBytes(file);
            try
            {
                decoder.Decode(bytes, decoded);
            }
            catch (ImageRejectedException)
            {
                continue;
            }

            set.Add(new BenchImage(Path.GetFileName(file), bytes, $"{decoded.Width}x{decoded.Height}"));
        }

        return set;
    }

    private static void Render(BenchReport report, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
        });
        console.Profile.Width = 220;
        var table = new Table().Border(TableBorder.Simple).Title($"semedge bench: {report.ProcessorCount} cores, {report.Runtime}, {report.Iterations} passes");
        foreach (var column in new[] { "config", "images", "provider", "decode p50/p99", "preproc p50/p99", "infer p50/p99", "total p50/p99",
                     "img/s", "raw infer p50/p99", "total/raw", "total/(dec+raw)", "B/image", "B/run", "GC 0/1/2", "screened clean" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        foreach (var r in report.Results)
        {
            table.AddRow(r.Config, r.Group, r.Provider, Ms(r.Decode), Ms(r.Preprocess), Ms(r.Inference), Ms(r.Total),
                F(r.ImagesPerSecond, "0.0"), Ms(r.RawInference), F(r.PipelineOverRaw, "0.00"), F(r.PipelineOverDecodePlusRaw, "0.00"),
                F(r.AllocatedBytesPerImage, "0"), F(r.InferenceAllocatedBytesPerRun, "0"),
                $"{r.Gen0Collections}/{r.Gen1Collections}/{r.Gen2Collections}", r.Cascade ? F(r.ShortCircuitedShare * 100, "0") + "%" : "-");
        }

        console.Write(table);
        foreach (var (group, stage) in report.SlowestStage)
        {
            console.WriteLine($"slowest stage for {group}: {stage}");
        }

        if (report.CleanHeavy is { } c)
        {
            console.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "{0} stream ({1} images, {2:0}% clean): {3} mean {4:0.00} ms, {5:0.0} img/s | {6} mean {7:0.00} ms, {8:0.0} img/s, screen skipped the classifier on {9:0}% | the cascade costs {10:0.00}x the single stage ({11})",
                c.Group, c.Images / report.Iterations, CleanHeavyCleanShare * 100, c.SingleStage, c.SingleStageMeanMs, c.SingleStageImagesPerSecond,
                c.Cascade, c.CascadeMeanMs, c.CascadeImagesPerSecond, c.ScreenedShare * 100, c.CascadeOverSingleStage,
                c.CascadeOverSingleStage < 1 ? "cheaper" : "not cheaper"));
        }

        foreach (var d in report.DecodePaths)
        {
            console.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "decode {0} ({1} decodes each, in turn): daemon path p50 {2:0.00} ms, p99 {3:0.00} ms | Skia alone p50 {4:0.00} ms, p99 {5:0.00} ms | daemon/Skia p50 = {6:0.00}",
                d.Group, d.Images, d.DaemonPath.P50, d.DaemonPath.P99, d.SkiaOnly.P50, d.SkiaOnly.P99, d.DaemonOverSkia));
        }
    }

    private static string Ms(LatencyStats s) => $"{F(s.P50, "0.00")}/{F(s.P99, "0.00")}";

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
