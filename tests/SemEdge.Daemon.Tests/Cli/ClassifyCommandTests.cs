using System.Text.Json;
using SemEdge.Cli;
using SemEdge.Inference;
using SemEdge.Tests.Inference;

namespace SemEdge.Tests.Cli;

public class ClassifyCommandTests
{
    [Fact]
    public void Json_mode_prints_one_object_per_image_with_class_action_provider_and_latency()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(Path.Combine(dir.Path, "a.png"), Fixtures.GridPng(128, 5));
        File.WriteAllBytes(Path.Combine(dir.Path, "b.png"), Fixtures.GridPng(0, -1));
        var output = new StringWriter();

        var exit = ClassifyCommand.Run(Request(dir.Path, json: true, screen: true), output, TextWriter.Null, CancellationToken.None);

        Assert.Equal(SemEdgeCli.ExitOk, exit);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(2, lines.Length);
        Assert.Equal(("a.png", "open", "reject", "cpu", false), Row(lines[0]));
        Assert.Equal(("b.png", "clean", "pass", "cpu", true), Row(lines[1]));
        Assert.True(lines[0].GetProperty("totalMs").GetDouble() > 0);
    }

    [Fact]
    public void Table_mode_lists_each_image_and_a_summary()
    {
        using var dir = new TempFolder();
        var image = Path.Combine(dir.Path, "wafer.png");
        File.WriteAllBytes(image, Fixtures.GridPng(0, 2));
        var output = new StringWriter();

        var exit = ClassifyCommand.Run(Request(image, json: false, screen: false), output, TextWriter.Null, CancellationToken.None);

        Assert.Equal(SemEdgeCli.ExitOk, exit);
        var text = output.ToString();
        Assert.Contains("wafer.png", text);
        Assert.Contains("cmp", text);
        Assert.Contains("1 classified, 0 rejected; provider cpu", text);
    }

    [Fact]
    public void A_rejected_image_is_reported_and_the_job_fails()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(Path.Combine(dir.Path, "good.png"), Fixtures.GridPng(0, 1));
        File.WriteAllBytes(Path.Combine(dir.Path, "empty.png"), []);
        var output = new StringWriter();

        var exit = ClassifyCommand.Run(Request(dir.Path, json: true, screen: false), output, TextWriter.Null, CancellationToken.None);

        Assert.Equal(SemEdgeCli.ExitFailed, exit);
        var first = JsonDocument.Parse(output.ToString().Split('\n')[0]).RootElement;
        Assert.Equal("empty", first.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_fifo_named_directly_or_in_a_folder_is_refused_without_hanging()
    {
        // Issue 12 item 1: `mkfifo x/f.png; semedge classify x/f.png` hung for ever (opening a FIFO blocks).
        using var dir = new TempFolder();
        File.WriteAllBytes(Path.Combine(dir.Path, "good.png"), Fixtures.GridPng(0, 1));
        var fifo = Path.Combine(dir.Path, "f.png");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            mkfifo.WaitForExit();
        }

        foreach (var path in new[] { fifo, dir.Path })
        {
            var output = new StringWriter();
            var run = Task.Run(() => ClassifyCommand.Run(Request(path, json: true, screen: false), output, TextWriter.Null, CancellationToken.None));
            Assert.Same(run, await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(120))));

            Assert.Equal(SemEdgeCli.ExitFailed, await run);
            var refused = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement)
                .Single(e => e.GetProperty("path").GetString() == fifo);
            Assert.Equal("not-a-regular-file", refused.GetProperty("error").GetString());
        }
    }

    [Fact]
    public void A_symlink_is_not_followed_and_no_byte_of_its_target_is_shown()
    {
        // Issue 12 item 2: a link to /etc/passwd printed "root:x:0" in the error.
        using var dir = new TempFolder();
        var secret = Path.Combine(dir.Path, "secret.txt");
        File.WriteAllText(secret, "TOPSECRET-CONTENT");
        var link = Path.Combine(dir.Path, "wafer.png");
        File.CreateSymbolicLink(link, secret);

        foreach (var path in new[] { link, dir.Path })
        {
            var output = new StringWriter();
            var exit = ClassifyCommand.Run(Request(path, json: true, screen: false), output, TextWriter.Null, CancellationToken.None);

            Assert.Equal(SemEdgeCli.ExitFailed, exit);
            Assert.DoesNotContain("TOPSECRET", output.ToString(), StringComparison.Ordinal);
            var refused = JsonDocument.Parse(output.ToString().Split('\n')[0]).RootElement;
            Assert.Equal("symlink", refused.GetProperty("error").GetString());
        }
    }

    [Fact]
    public void Folder_mode_skips_the_names_the_daemon_skips()
    {
        using var dir = new TempFolder();
        Directory.CreateDirectory(Path.Combine(dir.Path, ".hidden"));
        foreach (var name in new[] { "a.png", ".dot.png", "b.png.tmp", "c.png.part", "d.png~", ".hidden/e.png" })
        {
            File.WriteAllBytes(Path.Combine(dir.Path, name), [1]);
        }

        var files = ClassifyCommand.ExpandPaths([dir.Path]).Select(f => Path.GetRelativePath(dir.Path, f));

        Assert.Equal(["a.png"], files);
    }

    [Fact]
    public void Missing_path_is_a_usage_error()
    {
        var ex = Assert.Throws<UsageException>(() => ClassifyCommand.ExpandPaths(["/nonexistent/wafer.png"]));

        Assert.Contains("/nonexistent/wafer.png", ex.Message);
    }

    [Fact]
    public void Folders_expand_to_their_image_files_sorted()
    {
        using var dir = new TempFolder();
        Directory.CreateDirectory(Path.Combine(dir.Path, "sub"));
        foreach (var name in new[] { "b.TIF", "a.png", "notes.txt", "sub/c.jpg" })
        {
            File.WriteAllBytes(Path.Combine(dir.Path, name), [1]);
        }

        var files = ClassifyCommand.ExpandPaths([dir.Path]).Select(f => Path.GetRelativePath(dir.Path, f));

        Assert.Equal(["a.png", "b.TIF", Path.Combine("sub", "c.jpg")], files);
    }

    [Fact]
    public void Shipped_models_folder_is_found_next_to_the_app_or_above_it()
    {
        using var dir = new TempFolder();
        var deep = Path.Combine(dir.Path, "artifacts", "bin", "app");
        Directory.CreateDirectory(deep);
        Directory.CreateDirectory(Path.Combine(dir.Path, "models"));
        File.WriteAllText(Path.Combine(dir.Path, "models", ShippedModels.ClassifierFile), "{}");

        Assert.Equal(Path.Combine(dir.Path, "models"), ShippedModels.FindFolder(deep));
        Assert.Equal(Path.Combine(dir.Path, "models", ShippedModels.ClassifierFile), ShippedModels.Resolve(ShippedModels.ClassifierFile, deep));
        var missing = Assert.Throws<FileNotFoundException>(() => ShippedModels.Resolve(ShippedModels.ScreenFile, deep));
        Assert.Contains(ShippedModels.ScreenFile, missing.Message);
    }

    [Fact]
    public void Classify_runs_what_the_daemon_runs_on_its_defaults_a_screen_only_when_named()
    {
        Assert.NotNull(ShippedModels.FindFolder()); // the checkout's models/, which ships a screen

        Assert.Null(ClassifyCommand.ModelsToRun(new InferenceOptions(), noScreen: false).ScreenManifest);
        Assert.Equal(Fixtures.Screen, ClassifyCommand.ModelsToRun(new InferenceOptions { ScreenManifest = Fixtures.Screen }, noScreen: false).ScreenManifest);
        Assert.Null(ClassifyCommand.ModelsToRun(new InferenceOptions { ScreenManifest = Fixtures.Screen }, noScreen: true).ScreenManifest);
    }

    private static ClassifyCommand.ClassifyRequest Request(string path, bool json, bool screen) =>
        new([path], json, new InferenceOptions
        {
            ClassifierManifest = Fixtures.Classifier,
            ScreenManifest = screen ? Fixtures.Screen : null,
            Threads = 1,
        }, NoScreen: !screen);

    private static (string, string, string, string, bool) Row(JsonElement e) =>
        (e.GetProperty("image").GetString()!, e.GetProperty("label").GetString()!, e.GetProperty("action").GetString()!,
         e.GetProperty("provider").GetString()!, e.GetProperty("screenShortCircuited").GetBoolean());
}
