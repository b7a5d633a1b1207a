using Microsoft.Playwright;
using SemEdge.Tests.EndToEnd;
using SemEdge.Tests.Platform;
using SemEdge.Tests.Publishing;
using SemEdge.Web;
using Xunit.Abstractions;

namespace SemEdge.Tests.Web;

/// <summary>
/// The page in a real headless Chromium against a real <c>scripts/semedge run</c> process. Few and patient: every
/// wait polls with a generous timeout, nothing is timed. With SEMEDGE_SCREENSHOTS=DIR the live page and the
/// review queue are saved there, with the shipped models (docs/images/ holds the committed ones:
/// <c>SEMEDGE_SCREENSHOTS=$PWD/docs/images dotnet test --filter FullyQualifiedName~WebBrowserTests</c>).
/// </summary>
[Trait("Category", "Browser")]
[Collection(DaemonCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class WebBrowserTests(SyntheticImages images, Chromium chromium, ITestOutputHelper output) : IDisposable, IClassFixture<Chromium>
{
    private const string LabelToken = "alice-labels-0123456789abcdef";
    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task A_dropped_image_appears_live_and_relabelling_it_puts_the_file_and_a_csv_row_in_the_dataset()
    {
        var root = _root.Combine("daemon");
        var port = FreePort.Next();
        // The committed screenshots show what a technician sees: the shipped models (signed with the release key,
        // which appsettings.json trusts), not the tiny fixture models the test runs otherwise.
        List<string> settings = [.. WebDaemon.PageSettings(root, "127.0.0.1", port), .. ScreenshotFolder is null ? [] : ShippedModels];
        await using var daemon = await DaemonProcess.StartAsync(root, DaemonUnderTest.Settings(root, DaemonUnderTest.Embedded(FreePort.Next()), settings));
        var address = WebDaemon.PrintedAddress(daemon.Output);
        Assert.Equal($"http://127.0.0.1:{port}", address);

        var page = await chromium.NewPageAsync();
        await page.GotoAsync(address + "/");
        await page.Locator("#stream.ok").WaitForAsync();

        // A few images while the page is open, the SEM way: each must show up by its own name.
        var names = await WebDaemon.DropAndWaitArchivedAsync(images, Path.Combine(root, "drop"), Path.Combine(root, "archive"), 12);
        foreach (var name in names)
        {
            await page.Locator($"#live [data-image='{name}']").WaitForAsync();
        }

        // The watcher may take the files in any order: the big tile is whichever was decided last.
        var last = await page.Locator("#latest").GetAttributeAsync("data-image") ?? throw new InvalidOperationException("no latest tile");
        Assert.Contains(last, names);

        // The health panel (refreshed every 2 s) has counted them all.
        await page.Locator("#health-table td", new() { HasTextString = $"{names.Count} inspected" }).WaitForAsync();
        var archived = WebDaemon.ArchivePathOf(Path.Combine(root, "archive"), last);
        await SaveScreenshotAsync(page, "web-live.png");

        // Open the newest image and relabel it with a key: a class other than the model's.
        await page.Locator("#latest").ClickAsync();
        await page.Locator("#viewer-json").Filter(new() { HasTextString = "\"label\"" }).WaitForAsync();
        var modelLabel = await page.Locator("#viewer-keys button.model").GetAttributeAsync("data-label");
        var classes = await page.EvaluateAsync<string[]>("() => state.classes");
        var key = Enumerable.Range(0, Math.Min(10, classes.Length)).First(i => classes[i] != modelLabel);
        await page.Keyboard.PressAsync(key.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.Locator("#viewer-status[data-done]").WaitForAsync();

        var split = LabelledDataset.SplitOf(last, 20);
        var copy = Path.Combine(root, "dataset", split, classes[key], last);
        Assert.True(File.Exists(copy), $"{copy} is missing");
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(root, "archive", archived)), await File.ReadAllBytesAsync(copy));
        var rows = (await File.ReadAllLinesAsync(Path.Combine(root, "dataset", LabelledDataset.CsvName))).Skip(1).Select(LabelledDataset.ParseRow).ToList();
        var row = Assert.Single(rows);
        Assert.Equal([$"{split}/{classes[key]}/{last}", split, classes[key], "local", modelLabel!, archived], [row[0], row[1], row[2], row[3], row[5], row[10]]);

        // The review queue, for the screenshot: the page's own tab.
        await page.Locator("#viewer-close").ClickAsync();
        await page.Locator("nav button[data-tab='review']").ClickAsync();
        await page.Locator("#review-tiles .tile, #review-tiles .empty").First.WaitForAsync();
        if (await page.Locator("#review-tiles .tile").CountAsync() > 0)
        {
            await page.Locator("#review-tiles .tile").First.ClickAsync();
            await page.Locator("#viewer-json").Filter(new() { HasTextString = "\"label\"" }).WaitForAsync();
        }

        await SaveScreenshotAsync(page, "web-review.png");
        Assert.Equal(0, await daemon.StopAsync());
    }

    [Fact]
    public async Task On_a_lan_bind_the_page_is_refused_without_a_token_and_no_route_shows_etc_passwd()
    {
        var root = _root.Combine("daemon");
        var port = FreePort.Next();
        var tokens = WebDaemon.WriteTokens(_root.Combine("secrets"), ("alice", "label", LabelToken));
        // 127.0.0.2 stands for the LAN address: the rule is "127.0.0.1 and ::1 alone run without a token".
        await using var daemon = await DaemonProcess.StartAsync(root, DaemonUnderTest.Settings(root, DaemonUnderTest.Embedded(FreePort.Next()), WebDaemon.PageSettings(root, "127.0.0.2", port, tokens)));
        var address = WebDaemon.PrintedAddress(daemon.Output);
        var name = (await WebDaemon.DropAndWaitArchivedAsync(images, Path.Combine(root, "drop"), Path.Combine(root, "archive"), 1))[0];
        var archived = WebDaemon.ArchivePathOf(Path.Combine(root, "archive"), name);
        File.CreateSymbolicLink(Path.Combine(root, "archive", Path.GetDirectoryName(archived)!, "passwd.png"), "/etc/passwd");

        var page = await chromium.NewPageAsync();
        await page.GotoAsync(address + "/");
        await page.Locator("#login:not([hidden])").WaitForAsync();
        Assert.Equal(401, await page.EvaluateAsync<int>("async () => (await fetch('/api/health')).status"));
        Assert.Equal(401, await page.EvaluateAsync<int>($"async () => (await fetch('/api/image?path={archived}')).status"));
        await AssertNoPasswdAsync(page, address, archived);

        // With the token: the page works, and still nothing outside the archive.
        await page.Locator("#token").FillAsync(LabelToken);
        await page.Locator("#login-form button").ClickAsync();
        await page.Locator("#who", new() { HasTextString = "alice (label)" }).WaitForAsync();
        await page.Locator($"[data-image='{name}']").First.WaitForAsync();
        Assert.Equal(200, await page.EvaluateAsync<int>($"async () => (await fetch('/api/image?path={archived}')).status"));
        await AssertNoPasswdAsync(page, address, archived);
        Assert.Equal(0, await daemon.StopAsync());
    }

    private static async Task AssertNoPasswdAsync(IPage page, string address, string archived)
    {
        var folder = Path.GetDirectoryName(archived)!.Replace('\\', '/');
        string[] targets =
        [
            "/etc/passwd", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/api/image?path=../../../../etc/passwd",
            "/api/image?size=full&path=..%2F..%2F..%2F..%2Fetc%2Fpasswd", "/api/verdict?path=%2Fetc%2Fpasswd", $"/api/image?path={folder}/passwd.png",
            $"/api/image?path={folder}/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd", "/api/archive/list?day=..%2F..%2F..%2Fetc&action=pass", "/app.js/..%2F..%2F..%2Fetc%2Fpasswd",
        ];
        foreach (var target in targets)
        {
            var response = await page.APIRequest.GetAsync(address + target);
            var body = await response.TextAsync();
            Assert.DoesNotContain(WebDaemon.PasswdMarker, body);
            Assert.True(response.Status != 200 || target.StartsWith("/api/archive/list", StringComparison.Ordinal), $"{target} answered 200");
        }
    }

    private static string? ScreenshotFolder => Environment.GetEnvironmentVariable("SEMEDGE_SCREENSHOTS");

    private static string[] ShippedModels =>
    [
        $"--Inference:ClassifierManifest={Path.Combine(RepoPaths.Root, "models", "classifier.int8.json")}",
        $"--Inference:ScreenManifest={Path.Combine(RepoPaths.Root, "models", "screen.int8.json")}",
    ];

    private async Task SaveScreenshotAsync(IPage page, string file)
    {
        // Thumbnails deferred during the burst (the server answers 503 while images wait) must all have come in.
        await page.WaitForFunctionAsync(
            "() => [...document.querySelectorAll('.tile img, .tile .thumb-wait')].filter(e => e.offsetParent !== null && e.getBoundingClientRect().top < innerHeight)" +
            ".every(e => e.tagName === 'IMG' && e.complete && e.naturalWidth > 0)");
        var path = Path.Combine(ScreenshotFolder ?? _root.Path, file);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path });
        output.WriteLine($"screenshot: {path}");
    }
}
