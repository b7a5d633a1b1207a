using System.Globalization;
using System.Text.Json;
using SemEdge.Decision;
using SemEdge.Imaging;
using SemEdge.Inference;
using Spectre.Console;

namespace SemEdge.Toolchain.Evaluation;

public sealed record EvaluateRequest(string Model, string Data, string? Screen, string Out, int Threads);

/// <summary>
/// <c>semedge evaluate</c>: runs a labelled test split through the same runtime the daemon uses (decoder,
/// preprocessor, ORT session, cascade) and reports accuracy, per-class figures, confusion matrix and latency.
/// </summary>
public static class EvaluateJob
{
    public const string ReportFile = "report.json";

    public static JobOutcome Run(EvaluateRequest request, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var manifest = LoadManifest(request.Model, "MODEL");
        var screenManifest = request.Screen is null ? null : LoadManifest(request.Screen, "--screen");
        if (request.Threads is < 1 or > 64)
        {
            throw new JobInputException($"--threads must be 1 to 64, got {request.Threads}");
        }

        var isScreen = manifest.Kind == ModelManifest.ScreenKind;
        if (isScreen && screenManifest is not null)
        {
            throw new JobInputException("MODEL is a screen; evaluate it alone, or pass the classifier as MODEL and the screen with --screen");
        }

        if (screenManifest is not null && screenManifest.Kind != ModelManifest.ScreenKind)
        {
            throw new JobInputException($"--screen '{request.Screen}' is a {screenManifest.Kind}, not a screen");
        }

        if (!isScreen && manifest.Kind != ModelManifest.ClassifierKind)
        {
            throw new JobInputException($"MODEL kind '{manifest.Kind}' is neither classifier nor screen");
        }

        var images = LabelledImages.Find(request.Data, manifest.Classes, isScreen);
        Directory.CreateDirectory(request.Out);
        try
        {
            var report = isScreen
                ? EvaluateScreen(request, manifest, images, cancellationToken)
                : EvaluateClassifier(request, manifest, images, cancellationToken);
            var json = JsonSerializer.Serialize(report, EvaluationJsonContext.Default.EvaluationReport);
            File.WriteAllText(Path.Combine(request.Out, ReportFile), json + "\n");
            Print(stdout, report, request.Out);
            return JobOutcome.Succeeded;
        }
        catch (Exception ex) when (ex is ModelLoadException or ArgumentException)
        {
            // ArgumentException: the model has a class the class table does not know.
            stderr.WriteLine($"semedge evaluate: {ex.Message}");
            return JobOutcome.Failed;
        }
    }

    private static EvaluationReport EvaluateClassifier(EvaluateRequest request, ModelManifest manifest,
        IReadOnlyList<LabelledImage> images, CancellationToken cancellationToken)
    {
        var unreadable = new List<string>();
        string provider;
        ClassificationSection alone;
        Dictionary<string, int> numbers;
        using (var inspector = CreateInspector(request.Model, null, request.Threads))
        {
            provider = inspector.Provider;
            numbers = manifest.Classes.Select((label, i) => (label, i))
                .ToDictionary(p => p.label, p => inspector.Policy.NumberOf(p.i), StringComparer.Ordinal);
            WarmUp(inspector, images);
            var matrix = new ConfusionMatrix(manifest.Classes);
            var latency = new List<double>(images.Count);
            var decisions = new List<(float Confidence, bool Correct)>(images.Count);
            foreach (var image in images)
            {
                if (Inspect(inspector, image, unreadable, cancellationToken) is { } inspection)
                {
                    matrix.Add(image.Actual, inspection.ModelClassIndex);
                    latency.Add(inspection.LatencyMs);
                    decisions.Add((inspection.Confidence, inspection.ClassId == image.Actual));
                }
            }

            alone = ClassificationSection.From(matrix, LatencySummary.From(latency),
                WriteChart(request.Out, "confusion.png", matrix, $"{manifest.Id} ({manifest.Format})")) with
            {
                Purity = PurityCurve.From(decisions),
                Temperature = manifest.Temperature ?? 1f,
                Tta = manifest.Tta ?? ModelManifest.TtaNone,
            };
        }

        CascadeSection? cascade = null;
        if (request.Screen is not null)
        {
            cascade = EvaluateCascade(request, manifest, images, cancellationToken);
        }

        return NewReport(request, manifest, provider, images.Count, unreadable) with { ClassNumbers = numbers, Classifier = alone, Cascade = cascade };
    }

    private static CascadeSection EvaluateCascade(EvaluateRequest request, ModelManifest manifest,
        IReadOnlyList<LabelledImage> images, CancellationToken cancellationToken)
    {
        using var inspector = CreateInspector(request.Model, request.Screen, request.Threads);
        WarmUp(inspector, images);
        var clean = manifest.Classes.ToList().IndexOf(DecisionPolicy.CleanLabel);
        var matrix = new ConfusionMatrix(manifest.Classes);
        var latency = new List<double>(images.Count);
        var decisions = new List<(bool IsDefect, bool SentOn)>(images.Count);
        var ignored = new List<string>();
        foreach (var image in images)
        {
            if (Inspect(inspector, image, ignored, cancellationToken) is { } inspection)
            {
                matrix.Add(image.Actual, inspection.ModelClassIndex);
                latency.Add(inspection.LatencyMs);
                decisions.Add((image.Actual != clean, !inspection.ScreenShortCircuited));
            }
        }

        var screen = ScreenMetrics.From(inspector.Cascade.DefectThreshold, decisions);
        return new CascadeSection
        {
            Screen = new ScreenSection { ScreenModel = request.Screen!, Metrics = screen },
            ClassifierSpared = screen.Spared,
            ClassifierSparedFraction = screen.SparedFraction,
            Result = ClassificationSection.From(matrix, LatencySummary.From(latency),
                WriteChart(request.Out, "cascade-confusion.png", matrix, $"cascade {manifest.Id}")),
        };
    }

    /// <summary>
    /// A screen on its own: the runtime's decoder, preprocessor and model session, then P(defect) against the
    /// manifest's threshold exactly as the cascade applies it.
    /// </summary>
    private static EvaluationReport EvaluateScreen(EvaluateRequest request, ModelManifest manifest,
        IReadOnlyList<LabelledImage> images, CancellationToken cancellationToken)
    {
        using var session = ModelSession.Load(request.Model, request.Threads);
        var threshold = manifest.DefectThreshold
            ?? throw new ModelLoadException($"{request.Model}: a screen needs defectThreshold");
        var decoder = new ImageDecoder();
        var decoded = new DecodedImage();
        var preprocessor = new Preprocessor(manifest.Preprocessing);
        var matrix = new ConfusionMatrix(["clean", "defect"]);
        var decisions = new List<(bool, bool)>(images.Count);
        var latency = new List<double>(images.Count);
        var unreadable = new List<string>();
        var warmUp = true;
        // The first image is decoded and run twice: the untimed first pass absorbs one-off set-up costs.
        foreach (var image in images.Take(1).Concat(images))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var timed = !warmUp;
            warmUp = false;
            var bytes = File.ReadAllBytes(image.Path);
            var start = TimeProvider.System.GetTimestamp();
            try
            {
                decoder.Decode(bytes, decoded);
            }
            catch (ImageRejectedException ex)
            {
                if (timed)
                {
                    unreadable.Add($"{image.Path}: {ex.Message}");
                }

                continue;
            }

            preprocessor.Run(decoded, session.Input);
            session.Run();
            if (!timed)
            {
                continue;
            }

            latency.Add(TimeProvider.System.GetElapsedTime(start).TotalMilliseconds);
            var sentOn = session.Probabilities[1] >= threshold;
            matrix.Add(image.Actual, sentOn ? 1 : 0);
            decisions.Add((image.Actual == 1, sentOn));
        }

        var section = new ScreenSection
        {
            ScreenModel = request.Model,
            Metrics = ScreenMetrics.From(threshold, decisions),
            LatencyMs = LatencySummary.From(latency),
            Confusion = matrix.ToRows(),
            ConfusionPng = WriteChart(request.Out, "confusion.png", matrix, $"{manifest.Id} at {threshold.ToString("0.###", CultureInfo.InvariantCulture)}"),
        };
        return NewReport(request, manifest, session.Provider, images.Count, unreadable) with { Screen = section };
    }

    /// <summary>
    /// One untimed pass over the first image: the first decode and run pay one-off costs (codec and kernel set-up)
    /// that a daemon pays once at start, so they would only distort the per-image percentiles.
    /// </summary>
    private static void WarmUp(Inspector inspector, IReadOnlyList<LabelledImage> images)
    {
        try
        {
            inspector.InspectFile(images[0].Path);
        }
        catch (ImageRejectedException)
        {
            // Reported with the timed pass.
        }
    }

    private static Inspection? Inspect(Inspector inspector, LabelledImage image, List<string> unreadable, CancellationToken cancellationToken)
    {
        try
        {
            return inspector.InspectFile(image.Path, cancellationToken);
        }
        catch (ImageRejectedException ex)
        {
            unreadable.Add($"{image.Path}: {ex.Message}");
            return null;
        }
    }

    private static Inspector CreateInspector(string classifier, string? screen, int threads) =>
        Inspector.Create(new InferenceOptions { ClassifierManifest = classifier, ScreenManifest = screen, Threads = threads, Accelerator = "cpu" },
            new DecisionOptions());

    private static EvaluationReport NewReport(EvaluateRequest request, ModelManifest manifest, string provider, int images, List<string> unreadable) => new()
    {
        Model = request.Model,
        ModelId = manifest.Id,
        Kind = manifest.Kind,
        Format = manifest.Format,
        Sha256 = manifest.Sha256,
        Provider = provider,
        Data = request.Data,
        Images = images,
        Unreadable = unreadable,
    };

    private static string WriteChart(string directory, string name, ConfusionMatrix matrix, string title)
    {
        var accuracy = matrix.Total == 0 ? 0 : (double)matrix.Correct() / matrix.Total;
        var png = ConfusionMatrixChart.RenderPng(matrix, $"{title}: {matrix.Total} images, accuracy {accuracy.ToString("0.0%", CultureInfo.InvariantCulture)}");
        File.WriteAllBytes(Path.Combine(directory, name), png);
        return name;
    }

    private static ModelManifest LoadManifest(string path, string what)
    {
        if (!File.Exists(path))
        {
            throw new JobInputException($"{what} '{path}' does not exist");
        }

        if (!path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            throw new JobInputException($"{what} must be a model manifest (.json), got '{path}'");
        }

        try
        {
            return ModelManifest.Load(path);
        }
        catch (JsonException ex)
        {
            throw new JobInputException($"{what} '{path}' is not a model manifest: {ex.Message}");
        }
    }

    private static void Print(TextWriter writer, EvaluationReport report, string outDir)
    {
        // Escape codes only on a terminal: the report is also read from logs and captured by scripts.
        var terminal = ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        console.MarkupLine($"[bold]{Markup.Escape(report.ModelId)}[/] ({Markup.Escape(report.Kind)}, {Markup.Escape(report.Format)}) on " +
            $"{Markup.Escape(report.Provider)}: {report.Images} images from {Markup.Escape(report.Data)}" +
            (report.Unreadable.Count > 0 ? $", [red]{report.Unreadable.Count} unreadable[/]" : ""));
        if (report.ClassNumbers is { } numbers)
        {
            console.MarkupLine("class numbers (the class table, as published to the line): " +
                Markup.Escape(string.Join(", ", numbers.OrderBy(kv => kv.Value).Select(kv => $"{kv.Key}={kv.Value}"))));
        }

        if (report.Classifier is { } classifier)
        {
            PrintClassification(console, "Classifier alone", classifier);
            if (classifier.Purity is { } purity)
            {
                PrintPurity(console, purity, classifier);
            }
        }

        if (report.Screen is { } screen)
        {
            PrintScreen(console, "Screen alone", screen);
        }

        if (report.Cascade is { } cascade)
        {
            PrintScreen(console, "Cascade: screen stage", cascade.Screen);
            PrintClassification(console, "Cascade: end to end", cascade.Result);
            console.MarkupLine($"classifier spared on {cascade.ClassifierSpared} of {cascade.Result.Total} images ({Percent(cascade.Screen.Metrics.SparedFraction)})");
        }

        console.MarkupLine($"report: {Markup.Escape(Path.Combine(outDir, ReportFile))}");
        foreach (var line in report.Unreadable)
        {
            console.MarkupLine($"[red]unreadable[/] {Markup.Escape(line)}");
        }
    }

    private static void PrintClassification(IAnsiConsole console, string title, ClassificationSection s)
    {
        var table = new Table().Title(title).AddColumns("class", "support", "precision", "recall", "F1");
        foreach (var c in s.PerClass)
        {
            table.AddRow(Markup.Escape(c.Class), c.Support.ToString(CultureInfo.InvariantCulture), Percent(c.Precision), Percent(c.Recall), Percent(c.F1));
        }

        table.AddRow("[bold]macro[/]", s.Total.ToString(CultureInfo.InvariantCulture), Percent(s.MacroPrecision), Percent(s.MacroRecall), Percent(s.MacroF1));
        console.Write(table);
        console.MarkupLine($"accuracy [bold]{Percent(s.Accuracy)}[/] ({s.Correct}/{s.Total}); latency per image p50 {Ms(s.LatencyMs.P50)}, " +
            $"p99 {Ms(s.LatencyMs.P99)}; confusion matrix {Markup.Escape(s.ConfusionPng)}");
    }

    private static void PrintPurity(IAnsiConsole console, PurityCurve purity, ClassificationSection s)
    {
        var table = new Table().Title("Purity vs accept rate (below the confidence floor an image goes to review)")
            .AddColumns("confidence floor", "decided alone", "accept rate", "purity");
        foreach (var p in purity.Points)
        {
            table.AddRow(p.Threshold.ToString("0.00", CultureInfo.InvariantCulture), p.Accepted.ToString(CultureInfo.InvariantCulture),
                Percent(p.AcceptRate), Percent(p.Purity));
        }

        console.Write(table);
        var target = purity.AtTargetPurity is { } t
            ? $"confidence floor {t.Threshold.ToString("0.####", CultureInfo.InvariantCulture)} gives {Percent(t.Purity)} purity at an accept rate of {Percent(t.AcceptRate)}"
            : "no confidence floor reaches it";
        console.MarkupLine($"{Percent(purity.TargetPurity)} purity: {Markup.Escape(target)}; expected calibration error " +
            $"{purity.ExpectedCalibrationError.ToString("0.000", CultureInfo.InvariantCulture)} (temperature " +
            $"{(s.Temperature ?? 1f).ToString("0.###", CultureInfo.InvariantCulture)}, tta {Markup.Escape(s.Tta ?? ModelManifest.TtaNone)})");
    }

    private static void PrintScreen(IAnsiConsole console, string title, ScreenSection s)
    {
        var m = s.Metrics;
        var table = new Table().Title(title).AddColumns("threshold", "defect recall", "defect precision", "clean precision", "clean recall", "spared");
        table.AddRow(m.Threshold.ToString("0.####", CultureInfo.InvariantCulture), Percent(m.DefectRecall), Percent(m.DefectPrecision),
            Percent(m.CleanPrecision), Percent(m.CleanRecall), $"{m.Spared} ({Percent(m.SparedFraction)})");
        console.Write(table);
        console.MarkupLine($"defects missed {m.DefectsMissed}, clean sent on {m.CleanSentOn}" +
            (s.LatencyMs is { } l ? $"; latency per image p50 {Ms(l.P50)}, p99 {Ms(l.P99)}" : ""));
    }

    private static string Percent(double v) => v.ToString("0.0%", CultureInfo.InvariantCulture);

    private static string Ms(double v) => v.ToString("0.00", CultureInfo.InvariantCulture) + " ms";
}
