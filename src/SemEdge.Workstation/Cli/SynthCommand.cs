using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using SemEdge.Synthesis;
using Spectre.Console;

namespace SemEdge.Cli;

/// <summary><c>semedge synth</c>: writes a synthetic SEM dataset, or feeds a drop folder at a steady rate.</summary>
internal static class SynthCommand
{
    public static Command Create()
    {
        var command = new Command("synth", "Generate synthetic SEM defect images (a dataset, or a stream into a drop folder).");
        var outOption = new Option<DirectoryInfo?>("--out") { Description = "Dataset folder: OUT/{train,val,test}/{class}/*.png, labels.csv, contact-sheet.png." };
        var seedOption = new Option<int>("--seed") { Description = "Run seed; the same seed gives byte-identical files.", DefaultValueFactory = _ => 1 };
        var sizeOption = new Option<int>("--size") { Description = "Image width and height in pixels.", DefaultValueFactory = _ => 512 };
        var trainOption = new Option<int>("--train") { Description = "Training images per class.", DefaultValueFactory = _ => 150 };
        var valOption = new Option<int>("--val") { Description = "Validation images per class.", DefaultValueFactory = _ => 32 };
        var testOption = new Option<int>("--test") { Description = "Test images per class.", DefaultValueFactory = _ => 33 };
        var perClassOption = new Option<int?>("--per-class") { Description = "Images per class in each of train, val and test (overrides the three)." };
        var classesOption = new Option<string?>("--classes") { Description = "Comma-separated subset of classes (default: all ten)." };
        var dropOption = new Option<DirectoryInfo?>("--drop") { Description = "Drop-folder mode: write images into this folder at --rate until --count or Ctrl-C." };
        var rateOption = new Option<double>("--rate") { Description = "Drop mode: images per second.", DefaultValueFactory = _ => 5 };
        var countOption = new Option<int?>("--count") { Description = "Drop mode: stop after this many images." };
        var pretraining = SynthesisSettings.Pretraining;
        var magnificationOption = new Option<string?>("--magnification")
        {
            Description = $"Pattern scale MIN:MAX against the legacy generator, drawn log-uniform (default {Range(pretraining.Magnification)}; 1 = legacy).",
        };
        var prominenceOption = new Option<string?>("--prominence") { Description = "Defect size and contrast: subtle (legacy), large, or mixed (default, half each)." };
        var styleOption = new Option<string?>("--style") { Description = "Frames: review (tool frames), figure (crops of published figures), or mixed (default)." };
        var figureRateOption = new Option<double?>("--figure-crop-rate")
        {
            Description = $"Share of figure crops under --style mixed, 0..1 (default {pretraining.FigureCropRate.ToString(CultureInfo.InvariantCulture)}).",
        };
        var contrastOption = new Option<string?>("--contrast") { Description = $"Detector gain MIN:MAX, drawn uniform (default {Range(pretraining.Contrast)})." };
        var legacyOption = new Option<bool>("--legacy") { Description = "Start from the legacy generator's distribution (1:1, subtle, review, 0.75:1.3) instead of the pretraining mix." };
        foreach (var option in new Option[] { outOption, seedOption, sizeOption, trainOption, valOption, testOption, perClassOption, classesOption, dropOption, rateOption, countOption,
            magnificationOption, prominenceOption, styleOption, figureRateOption, contrastOption, legacyOption })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, ct) =>
        {
            var outDir = parse.GetValue(outOption);
            var dropDir = parse.GetValue(dropOption);
            var size = parse.GetValue(sizeOption);
            if (size is < SampleSpec.MinSize or > SampleSpec.MaxSize)
            {
                throw new UsageException($"--size must be {SampleSpec.MinSize}..{SampleSpec.MaxSize}, got {size}");
            }
            var classes = ParseClasses(parse.GetValue(classesOption));
            var settings = ParseSettings(parse.GetValue(legacyOption), parse.GetValue(magnificationOption), parse.GetValue(prominenceOption),
                parse.GetValue(styleOption), parse.GetValue(figureRateOption), parse.GetValue(contrastOption));
            var seed = parse.GetValue(seedOption);
            if ((outDir is null) == (dropDir is null))
            {
                throw new UsageException("give exactly one of --out DIR (dataset) or --drop DIR (drop-folder feed)");
            }
            if (dropDir is not null)
            {
                var rate = parse.GetValue(rateOption);
                if (!(rate > 0 && rate <= 1000))
                {
                    throw new UsageException($"--rate must be above 0 and at most 1000 images/s, got {rate.ToString(CultureInfo.InvariantCulture)}");
                }
                var count = parse.GetValue(countOption);
                if (count is < 1 or > ImageSeeds.MaxIndex)
                {
                    throw new UsageException($"--count must be 1..{ImageSeeds.MaxIndex}, got {count}");
                }
                return await FeedAsync(dropDir, seed, rate, count, classes, size, settings, ct);
            }

            var perClass = parse.GetValue(perClassOption);
            var train = perClass ?? parse.GetValue(trainOption);
            var val = perClass ?? parse.GetValue(valOption);
            var test = perClass ?? parse.GetValue(testOption);
            if (perClass is < 1)
            {
                throw new UsageException($"--per-class must be at least 1, got {perClass}");
            }
            if (train < 0 || val < 0 || test < 0 || Math.Max(train, Math.Max(val, test)) > ImageSeeds.MaxIndex)
            {
                throw new UsageException($"--train, --val and --test must be 0..{ImageSeeds.MaxIndex}");
            }
            if (train + val + test == 0)
            {
                throw new UsageException("nothing to generate: --train, --val and --test are all 0");
            }
            return Generate(outDir!, new DatasetPlan(seed, size, train, val, test, classes) { Settings = settings }, ct);
        });
        return command;
    }

    private static string Range((double Min, double Max) range) =>
        string.Format(CultureInfo.InvariantCulture, "{0}:{1}", range.Min, range.Max);

    /// <summary>The distribution options on top of the pretraining mix (or the legacy one); bad values are usage errors.</summary>
    internal static SynthesisSettings ParseSettings(bool legacy, string? magnification, string? prominence, string? style, double? figureRate, string? contrast)
    {
        var settings = legacy ? SynthesisSettings.Legacy : SynthesisSettings.Pretraining;
        if (magnification is not null)
        {
            if (!SynthesisSettings.TryParseRange(magnification, out var m) || !(m.Min >= SynthesisSettings.MinMagnification && m.Max <= SynthesisSettings.MaxMagnification && m.Min <= m.Max))
            {
                throw new UsageException(string.Format(CultureInfo.InvariantCulture, "--magnification must be MIN:MAX (or one value) with {0} <= MIN <= MAX <= {1}, got '{2}'",
                    SynthesisSettings.MinMagnification, SynthesisSettings.MaxMagnification, magnification));
            }
            settings = settings with { Magnification = m };
        }
        if (prominence is not null)
        {
            settings = settings with { Prominence = ParseEnum<DefectProminence>("--prominence", prominence) };
        }
        if (style is not null)
        {
            settings = settings with { Style = ParseEnum<FrameStyle>("--style", style) };
        }
        if (figureRate is { } rate)
        {
            if (!(rate >= 0 && rate <= 1))
            {
                throw new UsageException($"--figure-crop-rate must be 0..1, got {rate.ToString(CultureInfo.InvariantCulture)}");
            }
            settings = settings with { FigureCropRate = rate };
        }
        if (contrast is not null)
        {
            if (!SynthesisSettings.TryParseRange(contrast, out var c) || !(c.Min >= 0.2 && c.Max <= 3 && c.Min <= c.Max))
            {
                throw new UsageException($"--contrast must be MIN:MAX (or one value) with 0.2 <= MIN <= MAX <= 3, got '{contrast}'");
            }
            settings = settings with { Contrast = c };
        }
        return settings;
    }

    private static T ParseEnum<T>(string option, string value)
        where T : struct, Enum
    {
        var names = Enum.GetNames<T>().Select(n => n.ToLowerInvariant()).ToArray();
        if (!names.Contains(value, StringComparer.Ordinal))
        {
            throw new UsageException($"{option} must be one of {string.Join("|", names)}, got '{value}'");
        }
        return Enum.Parse<T>(value, ignoreCase: true);
    }

    private static IReadOnlyList<string> ParseClasses(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return SemClasses.Names;
        }
        var names = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var n in names)
        {
            if (!SemClasses.IsKnown(n))
            {
                throw new UsageException($"--classes: unknown class '{n}' (known: {string.Join(",", SemClasses.Names)})");
            }
        }
        if (names.Length == 0 || names.Distinct(StringComparer.Ordinal).Count() != names.Length)
        {
            throw new UsageException("--classes must list each class once");
        }
        // Keep the model's order whatever order was typed.
        return SemClasses.Names.Where(names.Contains).ToList();
    }

    private static int Generate(DirectoryInfo outDir, DatasetPlan plan, CancellationToken ct)
    {
        var writer = new DatasetWriter(outDir, plan);
        var watch = Stopwatch.StartNew();
        IReadOnlyList<LabelRow> rows = [];
        if (!Console.IsErrorRedirected)
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask("synth", maxValue: plan.Total);
                    rows = writer.Write(new InlineProgress(n => task.Value = n), ct);
                    task.Value = plan.Total;
                });
        }
        else
        {
            var step = Math.Max(1, plan.Total / 10);
            rows = writer.Write(new InlineProgress(n =>
            {
                if (n % step == 0 || n == plan.Total)
                {
                    Console.Error.WriteLine($"synth: {n}/{plan.Total} images");
                }
            }), ct);
        }
        var seconds = watch.Elapsed.TotalSeconds;
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
            "synth: wrote {0} images ({1}x{1}, {2} classes, seed {3}; {8}) to {4} in {5:0.0} s: {6:0.0} images/s; {7} scenes redrawn (defect not placeable or too faint at 128x128)",
            plan.Total, plan.Size, plan.Classes.Count, plan.Seed, outDir.FullName, seconds, plan.Total / seconds, rows.Count(r => r.Redrawn), plan.Settings.Describe()));
        return SemEdgeCli.ExitOk;
    }

    private static async Task<int> FeedAsync(DirectoryInfo dropDir, int seed, double rate, int? count, IReadOnlyList<string> classes, int size,
        SynthesisSettings settings, CancellationToken ct)
    {
        var feeder = new DropFeeder(dropDir, seed, rate, classes, size, TimeProvider.System) { Settings = settings };
        Console.Error.WriteLine(string.Format(CultureInfo.InvariantCulture, "synth: feeding {0} at {1} images/s{2} (Ctrl-C stops)",
            dropDir.FullName, rate, count is null ? "" : $", {count} images"));
        var watch = Stopwatch.StartNew();
        var written = await feeder.RunAsync(count, null, ct);
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "synth: dropped {0} images into {1} in {2:0.0} s: {3:0.0} images/s",
            written, dropDir.FullName, watch.Elapsed.TotalSeconds, written / Math.Max(watch.Elapsed.TotalSeconds, 1e-9)));
        return SemEdgeCli.ExitOk;
    }

    /// <summary>Reports on the calling thread; <see cref="Progress{T}"/> would post to a sync context.</summary>
    private sealed class InlineProgress(Action<int> report) : IProgress<int>
    {
        private readonly object _gate = new();

        public void Report(int value)
        {
            lock (_gate)
            {
                report(value);
            }
        }
    }
}
