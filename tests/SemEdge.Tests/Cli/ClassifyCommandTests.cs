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
