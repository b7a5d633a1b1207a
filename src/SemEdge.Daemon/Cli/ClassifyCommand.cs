using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SemEdge.Decision;
using SemEdge.Imaging;
using SemEdge.Inference;
using SemEdge.Inference.Accelerators;
using SemEdge.Ingest;
using Spectre.Console;

namespace SemEdge.Cli;

/// <summary><c>semedge classify FILES|DIRS</c>: class, confidence, action, provider and latency per image.</summary>
public static class ClassifyCommand
{
    /// <summary>File extensions picked up when a folder is given (files named explicitly are always tried).</summary>
    public static readonly IReadOnlySet<string> ImageExtensions =
        new HashSet<string>([".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"], StringComparer.OrdinalIgnoreCase);

    public static Command Create()
    {
        var command = new Command("classify", "Classify SEM images and show class, confidence, action, provider and latency.");
        var paths = new Argument<string[]>("PATHS") { Description = "Image files and/or folders of images.", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "One JSON object per line instead of a table." };
        var model = new Option<string?>("--model") { Description = "Classifier manifest (default: models/classifier.int8.json)." };
        var screen = new Option<string?>("--screen") { Description = "Screen manifest to put in front of the classifier (default: none, as the daemon's Pipeline:UseShippedScreen)." };
        var noScreen = new Option<bool>("--no-screen") { Description = "Run the classifier on every image, even with --screen (the default without it)." };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads.", DefaultValueFactory = _ => 2 };
        var accelerator = new Option<string>("--accelerator") { Description = "auto, cpu, vsinpu, nnapi or vsinpu-legacy.", DefaultValueFactory = _ => "cpu" };
        var vendor = new Option<string?>("--vendor-library") { Description = "The vendor's libonnxruntime.so (NPU builds)." };
        foreach (var option in new Option[] { json, model, screen, noScreen, threads, accelerator, vendor })
        {
            command.Options.Add(option);
        }

        command.Arguments.Add(paths);
        command.SetAction((parse, ct) =>
        {
            var request = new ClassifyRequest(
                parse.GetValue(paths)!,
                parse.GetValue(json),
                new InferenceOptions
                {
                    ClassifierManifest = parse.GetValue(model),
                    ScreenManifest = parse.GetValue(screen),
                    Threads = parse.GetValue(threads),
                    Accelerator = parse.GetValue(accelerator)!,
                    VendorLibraryPath = parse.GetValue(vendor),
                },
                parse.GetValue(noScreen));
            return Task.FromResult(Run(request, Console.Out, Console.Error, ct));
        });
        return command;
    }

    internal sealed record ClassifyRequest(IReadOnlyList<string> Paths, bool Json, InferenceOptions Inference, bool NoScreen);

    internal static int Run(ClassifyRequest request, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var files = ExpandPaths(request.Paths);
        var inference = ModelsToRun(request.Inference, request.NoScreen);
        var validation = new InferenceOptionsValidator().Validate(null, inference);
        if (validation.Failed)
        {
            throw new UsageException(validation.FailureMessage);
        }

        Inspector inspector;
        try
        {
            inspector = Inspector.Create(inference, new DecisionOptions());
        }
        catch (Exception ex) when (ex is ModelLoadException or AcceleratorUnavailableException or FileNotFoundException or ArgumentException)
        {
            // ArgumentException: the model has a class the class table does not know.
            error.WriteLine($"semedge classify: {ex.Message}");
            return SemEdgeCli.ExitFailed;
        }

        using (inspector)
        {
            var rejected = 0;
            var table = request.Json ? null : NewTable();
            foreach (var file in files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    // The daemon's own rules: a FIFO would block the open for ever, and a symlink is not followed
                    // (an error message must never show the bytes of the file it points to).
                    if (IngestRules.Refusal(FileStatus.Of(file)) is { } refusal)
                    {
                        rejected++;
                        WriteRejected(file, refusal.Reason, refusal.Detail);
                        continue;
                    }

                    var inspection = inspector.InspectFile(file, cancellationToken);
                    if (request.Json)
                    {
                        output.WriteLine(ToJson(file, inspection));
                    }
                    else
                    {
                        table!.AddRow(Markup.Escape(file), inspection.Label, F(inspection.Confidence, "0.000"),
                            inspection.Action.ToString().ToLowerInvariant(), inspection.Provider, F(inspection.TotalMs, "0.0"),
                            Screen(inspection));
                    }
                }
                catch (Exception ex) when (ex is ImageRejectedException or IOException or UnauthorizedAccessException)
                {
                    rejected++;
                    WriteRejected(file, ex is ImageRejectedException r ? r.Code : "unreadable", ex.Message);
                }
            }

            void WriteRejected(string file, string code, string message)
            {
                if (request.Json)
                {
                    output.WriteLine(ErrorJson(file, code, message));
                }
                else
                {
                    table!.AddRow(Markup.Escape(file), $"[red]rejected: {code}[/]", "", "", "", "", Markup.Escape(message));
                }
            }

            if (table is not null)
            {
                var console = AnsiConsole.Create(new AnsiConsoleSettings
                {
                    Out = new AnsiConsoleOutput(output),
                    Ansi = AnsiSupport.No,
                    ColorSystem = ColorSystemSupport.NoColors,
                });

                // Output is often a pipe or a log; do not wrap paths at 80 columns.
                console.Profile.Width = 200;
                console.Write(table);
                console.WriteLine($"{files.Count - rejected} classified, {rejected} rejected; provider {inspector.Provider}; " +
                    $"model {inspector.Cascade.Classifier.Manifest.Id} ({inspector.Cascade.Classifier.ShortSha})" +
                    (inspector.Cascade.Screen is { } s ? $", screen {s.Manifest.Id} at P(defect) >= {inspector.Cascade.DefectThreshold:0.###}" : ""));
            }

            return rejected == 0 ? SemEdgeCli.ExitOk : SemEdgeCli.ExitFailed;
        }
    }

    /// <summary>
    /// Files named directly, plus the image files of named folders (recursively, sorted). Folder mode skips what the
    /// daemon skips (dotfiles, <c>.tmp</c>/<c>.part</c>/<c>~</c> names) and does not descend into symlinked folders;
    /// symlinks and FIFOs are listed so that <see cref="Run"/> refuses them by name, without opening them.
    /// </summary>
    public static IReadOnlyList<string> ExpandPaths(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (var path in paths)
        {
            switch (FileStatus.Of(path).Kind)
            {
                case EntryKind.Missing:
                    throw new UsageException($"'{path}' is neither a file nor a folder");
                case EntryKind.Directory:
                    var found = new List<string>();
                    AddFolder(path, found);
                    files.AddRange(found.Order(StringComparer.Ordinal));
                    break;
                default:
                    files.Add(path);
                    break;
            }
        }

        return files.Count > 0 ? files : throw new UsageException("no image files found in the given paths");
    }

    private static void AddFolder(string folder, List<string> found)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(folder))
        {
            if (IngestRules.IsTemporaryName(Path.GetFileName(entry)))
            {
                continue;
            }

            var kind = FileStatus.Of(entry).Kind;
            if (kind == EntryKind.Directory)
            {
                AddFolder(entry, found);
            }
            else if (kind != EntryKind.Missing && ImageExtensions.Contains(Path.GetExtension(entry)))
            {
                found.Add(entry);
            }
        }
    }

    /// <summary>
    /// The models classify runs, as the daemon on its defaults: a screen only when --screen names one and --no-screen
    /// does not refuse it (the daemon leaves the shipped screen out unless Pipeline:UseShippedScreen is set). An
    /// unset classifier stays unset: <see cref="Inspector.Create"/> resolves it to the shipped one.
    /// </summary>
    public static InferenceOptions ModelsToRun(InferenceOptions options, bool noScreen) =>
        options.WithModels(options.ClassifierManifest, noScreen ? null : options.ScreenManifest);

    private static Table NewTable()
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (var column in new[] { "image", "class", "confidence", "action", "provider", "ms", "screen / reason" })
        {
            table.AddColumn(column);
        }

        return table;
    }

    private static string Screen(Inspection i) =>
        !i.ScreenRan ? "-" : i.ScreenShortCircuited ? $"clean (P(defect) {F(i.DefectProbability, "0.000")})" : $"defect (P {F(i.DefectProbability, "0.000")})";

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    private static string ToJson(string path, Inspection i)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("path", path);
            w.WriteString("image", i.Image);
            // The class table's number, exactly what the daemon's verdict carries as "class".
            w.WriteNumber("classId", i.ClassId);
            w.WriteString("label", i.Label);
            w.WriteNumber("confidence", Math.Round(i.Confidence, 6));
            w.WriteString("action", i.Action.ToString().ToLowerInvariant());
            w.WriteString("provider", i.Provider);
            w.WriteString("modelId", i.ModelId);
            w.WriteString("modelSha", i.ModelSha);
            w.WriteString("format", i.Format.ToString().ToLowerInvariant());
            w.WriteNumber("width", i.Width);
            w.WriteNumber("height", i.Height);
            w.WriteNumber("readMs", Math.Round(i.ReadMs, 3));
            w.WriteNumber("decodeMs", Math.Round(i.DecodeMs, 3));
            w.WriteNumber("preprocessMs", Math.Round(i.PreprocessMs, 3));
            w.WriteNumber("inferenceMs", Math.Round(i.InferenceMs, 3));
            w.WriteNumber("totalMs", Math.Round(i.TotalMs, 3));
            w.WriteBoolean("screenRan", i.ScreenRan);
            w.WriteBoolean("screenShortCircuited", i.ScreenShortCircuited);
            if (i.ScreenRan)
            {
                w.WriteNumber("defectProbability", Math.Round(i.DefectProbability, 6));
            }

            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string ErrorJson(string path, string code, string message)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("path", path);
            w.WriteString("error", code);
            w.WriteString("message", message);
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
