using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using SemEdge.Decision;
using SemEdge.Imaging;
using SemEdge.Inference;
using SemEdge.Inference.Accelerators;
using SemEdge.Synthesis;
using SkiaSharp;

namespace SemEdge.Cli;

/// <summary>
/// <c>semedge demo</c>: the headless demo. A folder of images (by default freshly synthesised ones, one class after
/// the other) through the inspector; each image written annotated with class, confidence and action, a contact
/// sheet, and an animated WebP slideshow made by Debian's <c>img2webp</c> (package webp). Same input, same seed,
/// same models: the same bytes out.
/// </summary>
internal static class DemoCommand
{
    private const int Border = 4;
    private const int BarHeight = 44;
    private const int SheetColumns = 5;

    public static Command Create()
    {
        var command = new Command("demo", "Inspect a folder of images (default: freshly synthesised ones) and write annotated images, a contact sheet and a slideshow.");
        var images = new Option<DirectoryInfo?>("--images") { Description = "Images to inspect (default: synthesise --count new ones)." };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder.", DefaultValueFactory = _ => new DirectoryInfo("demo") };
        var count = new Option<int>("--count") { Description = "Images to synthesise (one class after the other).", DefaultValueFactory = _ => 10 };
        var seed = new Option<int>("--seed") { Description = "Generator seed.", DefaultValueFactory = _ => 16 };
        var size = new Option<int>("--size") { Description = "Side of the synthesised images and of each annotated frame, in pixels.", DefaultValueFactory = _ => 256 };
        var frameMs = new Option<int>("--frame-ms") { Description = "How long the slideshow shows each image.", DefaultValueFactory = _ => 1200 };
        var model = new Option<string?>("--model") { Description = "Classifier manifest (default: models/classifier.int8.json)." };
        var noSlideshow = new Option<bool>("--no-slideshow") { Description = "Skip the animated WebP (no img2webp needed)." };
        foreach (var option in new Option[] { images, output, count, seed, size, frameMs, model, noSlideshow })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => Task.FromResult(Run(
            new DemoRequest(parse.GetValue(images), parse.GetValue(output)!, parse.GetValue(count), parse.GetValue(seed), parse.GetValue(size),
                parse.GetValue(frameMs), parse.GetValue(model), parse.GetValue(noSlideshow)),
            Console.Out,
            cancellationToken)));
        return command;
    }

    internal sealed record DemoRequest(DirectoryInfo? Images, DirectoryInfo Output, int Count, int Seed, int Size, int FrameMs, string? Model, bool NoSlideshow);

    internal static int Run(DemoRequest request, TextWriter console, CancellationToken cancellationToken)
    {
        if (request.Count is < 1 or > 1000 || request.Size is < SampleSpec.MinSize or > 1024 || request.FrameMs is < 100 or > 60000)
        {
            throw new UsageException("demo: --count must be 1..1000, --size 64..1024 and --frame-ms 100..60000");
        }

        var output = request.Output.FullName;
        var input = request.Images?.FullName ?? Path.Combine(output, "input");
        if (request.Images is { Exists: false })
        {
            throw new UsageException($"demo: the image folder {input} does not exist");
        }

        // Old frames of a longer run would otherwise stay in the slideshow's folder.
        foreach (var folder in new[] { "frames", request.Images is null ? "input" : null }.OfType<string>())
        {
            if (Directory.Exists(Path.Combine(output, folder)))
            {
                Directory.Delete(Path.Combine(output, folder), recursive: true);
            }
        }

        Directory.CreateDirectory(Path.Combine(output, "frames"));
        if (request.Images is null)
        {
            Synthesise(input, request.Count, request.Seed, request.Size);
        }

        var files = ClassifyCommand.ExpandPaths([input]);
        if (files.Count == 0)
        {
            throw new UsageException($"demo: no images in {input}");
        }

        Inspector inspector;
        try
        {
            // As the daemon on its defaults: the classifier alone (the shipped one when --model is not given).
            inspector = Inspector.Create(new InferenceOptions { ClassifierManifest = request.Model, Threads = 1 }, new DecisionOptions());
        }
        catch (Exception ex) when (ex is ModelLoadException or AcceleratorUnavailableException or FileNotFoundException)
        {
            console.WriteLine($"semedge demo: {ex.Message}");
            return SemEdgeCli.ExitFailed;
        }

        var frames = new List<(string Path, byte[] Rgba)>();
        var rows = new List<string> { "frame,image,label,confidence,action,screen" };
        using (inspector)
        {
            var screenId = inspector.Cascade.Screen?.Manifest.Id;
            var decoder = new ImageDecoder();
            var decoded = new DecodedImage();
            foreach (var file in files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Inspection inspection;
                try
                {
                    inspection = inspector.InspectFile(file, cancellationToken);
                    decoder.Decode(File.ReadAllBytes(file), decoded);
                }
                catch (ImageRejectedException ex)
                {
                    console.WriteLine($"semedge demo: {Path.GetFileName(file)} skipped: {ex.Message}");
                    continue;
                }

                var screen = screenId is null ? "off" : inspection.ModelId == screenId ? "clean" : "defect";
                var frame = Annotate(Grey8Pixels.From(decoded), decoded.Width, decoded.Height, request.Size, Path.GetFileName(file), inspection, screen);
                var framePath = Path.Combine(output, "frames", $"{frames.Count + 1:D3}-{Path.GetFileNameWithoutExtension(file)}.png");
                File.WriteAllBytes(framePath, EncodePng(frame, FrameWidth(request.Size), FrameHeight(request.Size)));
                frames.Add((framePath, frame));
                rows.Add(string.Join(',', Path.GetFileName(framePath), Path.GetFileName(file), inspection.Label,
                    inspection.Confidence.ToString("0.0000", CultureInfo.InvariantCulture), ActionText(inspection.Action), screen));
            }
        }

        File.WriteAllLines(Path.Combine(output, "verdicts.csv"), rows);
        File.WriteAllBytes(Path.Combine(output, "contact-sheet.png"), ContactSheetPng(frames.Select(f => f.Rgba).ToList(), request.Size));
        console.WriteLine($"demo: {frames.Count} annotated frames in {Path.Combine(output, "frames")}, contact sheet {Path.Combine(output, "contact-sheet.png")}");
        if (request.NoSlideshow)
        {
            return SemEdgeCli.ExitOk;
        }

        return Slideshow(frames.Select(f => f.Path).ToList(), Path.Combine(output, "slideshow.webp"), request.FrameMs, console, cancellationToken);
    }

    /// <summary>One image per class in turn, each from the generator's own seed derivation (the drop stream's).</summary>
    internal static void Synthesise(string folder, int count, int seed, int size)
    {
        Directory.CreateDirectory(folder);
        for (var i = 1; i <= count; i++)
        {
            var name = SemClasses.Names[(i - 1) % SemClasses.Names.Count];
            var spec = new SampleSpec(ImageSeeds.Derive(seed, DatasetSplit.Drop, SemClasses.IndexOf(name), i), name, size, size);
            File.WriteAllBytes(Path.Combine(folder, $"{i:D3}-{name}.png"), SemImageGenerator.RenderSample(spec).Image.EncodePng());
        }
    }

    private static int FrameWidth(int size) => size + (2 * Border);

    private static int FrameHeight(int size) => size + (2 * Border) + BarHeight;

    /// <summary>The image scaled to size × size in an action-coloured frame, with the verdict written under it.</summary>
    internal static byte[] Annotate(byte[] grey, int width, int height, int size, string name, Inspection inspection, string screen)
    {
        var frameWidth = FrameWidth(size);
        var frameHeight = FrameHeight(size);
        var scaled = Grey8Pixels.AreaResize(grey, width, height, size, size);
        var (r, g, b) = ActionColour(inspection.Action);
        var rgba = new byte[frameWidth * frameHeight * 4];
        for (var i = 0; i < frameWidth * frameHeight; i++)
        {
            rgba[i * 4] = r;
            rgba[(i * 4) + 1] = g;
            rgba[(i * 4) + 2] = b;
            rgba[(i * 4) + 3] = 255;
        }

        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                var v = scaled[(y * size) + x];
                var o = (((y + Border) * frameWidth) + x + Border) * 4;
                rgba[o] = rgba[o + 1] = rgba[o + 2] = v;
            }
        }

        // Text through the generator's built-in bitmap font: the same pixels on every machine, no system fonts.
        var mask = new byte[frameWidth * frameHeight];
        var top = size + (2 * Border);
        var headline = $"{inspection.Label.ToUpperInvariant()} {inspection.Confidence * 100:0.0}%  {ActionText(inspection.Action).ToUpperInvariant()}";
        var scale = BitmapFont.MeasureWidth(headline, 2) <= frameWidth - 8 ? 2 : 1;
        BitmapFont.Draw(mask, frameWidth, frameHeight, 4, top + 4, headline, scale, 255);
        var detail = screen == "off" ? name.ToUpperInvariant() : $"SCREEN {screen.ToUpperInvariant()}  {name.ToUpperInvariant()}";
        BitmapFont.Draw(mask, frameWidth, frameHeight, 4, top + 4 + (BitmapFont.GlyphHeight * scale) + 6, detail, 1, 255);
        var text = inspection.Action == VerdictAction.Review ? (byte)0 : (byte)255;
        for (var i = 0; i < mask.Length; i++)
        {
            if (mask[i] != 0)
            {
                rgba[i * 4] = rgba[(i * 4) + 1] = rgba[(i * 4) + 2] = text;
            }
        }

        return rgba;
    }

    private static byte[] ContactSheetPng(IReadOnlyList<byte[]> frames, int size)
    {
        var frameWidth = FrameWidth(size);
        var frameHeight = FrameHeight(size);
        var columns = Math.Min(SheetColumns, Math.Max(1, frames.Count));
        var rows = Math.Max(1, (frames.Count + columns - 1) / columns);
        var width = columns * frameWidth;
        var height = rows * frameHeight;
        var sheet = new byte[width * height * 4];
        for (var i = 0; i < sheet.Length; i += 4)
        {
            sheet[i] = sheet[i + 1] = sheet[i + 2] = 24;
            sheet[i + 3] = 255;
        }

        for (var f = 0; f < frames.Count; f++)
        {
            var left = f % columns * frameWidth;
            var top = f / columns * frameHeight;
            for (var y = 0; y < frameHeight; y++)
            {
                frames[f].AsSpan(y * frameWidth * 4, frameWidth * 4).CopyTo(sheet.AsSpan((((top + y) * width) + left) * 4));
            }
        }

        return EncodePng(sheet, width, height);
    }

    private static byte[] EncodePng(byte[] rgba, int width, int height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static int Slideshow(IReadOnlyList<string> frames, string target, int frameMs, TextWriter console, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("img2webp") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { "-loop", "0", "-lossy", "-q", "70", "-m", "4", "-d", frameMs.ToString(CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var frame in frames)
        {
            info.ArgumentList.Add(frame);
        }

        info.ArgumentList.Add("-o");
        info.ArgumentList.Add(target);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("img2webp did not start");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            console.WriteLine("semedge demo: img2webp is not installed (Debian: apt-get install webp); the frames and the contact sheet are written, the slideshow is not (or pass --no-slideshow)");
            return SemEdgeCli.ExitFailed;
        }

        using (process)
        {
            var errors = process.StandardError.ReadToEndAsync(cancellationToken);
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                console.WriteLine($"semedge demo: img2webp failed ({process.ExitCode}): {errors.Result.Trim()}");
                return SemEdgeCli.ExitFailed;
            }
        }

        console.WriteLine($"demo: slideshow {target} ({frames.Count} frames, {frameMs} ms each)");
        return SemEdgeCli.ExitOk;
    }

    private static string ActionText(VerdictAction action) => action.ToString().ToLowerInvariant();

    private static (byte R, byte G, byte B) ActionColour(VerdictAction action) => action switch
    {
        VerdictAction.Pass => (46, 157, 79),
        VerdictAction.Reject => (210, 60, 60),
        _ => (224, 161, 0),
    };
}
