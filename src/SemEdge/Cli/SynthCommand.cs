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
        foreach (var option in new Option[] { outOption, seedOption, sizeOption, trainOption, valOption, testOption, perClassOption, classesOption, dropOption, rateOption, countOption })
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
                return await FeedAsync(dropDir, seed, rate, count, classes, size, ct);
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
            return Generate(outDir!, new DatasetPlan(seed, size, train, val, test, classes), ct);
        });
        return command;
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
            "synth: wrote {0} images ({1}x{1}, {2} classes, seed {3}) to {4} in {5:0.0} s: {6:0.0} images/s; {7} scenes redrawn (defect not placeable or too faint at 128x128)",
            plan.Total, plan.Size, plan.Classes.Count, plan.Seed, outDir.FullName, seconds, plan.Total / seconds, rows.Count(r => r.Redrawn)));
        return SemEdgeCli.ExitOk;
    }

    private static async Task<int> FeedAsync(DirectoryInfo dropDir, int seed, double rate, int? count, IReadOnlyList<string> classes, int size, CancellationToken ct)
    {
        var feeder = new DropFeeder(dropDir, seed, rate, classes, size, TimeProvider.System);
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
