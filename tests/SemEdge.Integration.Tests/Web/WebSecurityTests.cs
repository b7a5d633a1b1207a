using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using SemEdge.Hosting;
using SemEdge.Imaging;
using SemEdge.Pipeline;
using SemEdge.Tests.EndToEnd;
using SemEdge.Tests.Publishing;
using SemEdge.Web;

namespace SemEdge.Tests.Web;

/// <summary>
/// The page's security rules over real HTTP, against the daemon built by its composition root in this process
/// (real files, fixture models, Kestrel on a free port). The browser tests repeat the essentials in Chromium.
/// </summary>
[Collection(DaemonCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class WebSecurityTests(SyntheticImages images) : IDisposable
{
    private const string LabelToken = "label-token-0123456789abcdef";
    private const string ReadToken = "read-token-0123456789abcdef";
    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task No_route_reads_outside_the_archive_through_traversal_encoded_names_or_symlinks()
    {
        var root = _root.Combine("daemon");
        await using var daemon = await DaemonUnderTest.StartAsync(root, DaemonUnderTest.Embedded(FreePort.Next()), WebDaemon.PageSettings(root, "127.0.0.1", 0));
        var address = daemon.Host.Services.GetRequiredService<WebPage>().Address!;
        var name = (await WebDaemon.DropAndWaitArchivedAsync(images, daemon.Drop, daemon.Archive, 1))[0];
        var real = WebDaemon.ArchivePathOf(daemon.Archive, name);
        var day = real.Split('/')[0];
        var action = real.Split('/')[1];

        // Planted links: a file link in the archive to /etc/passwd, and a whole day folder linked outside.
        File.CreateSymbolicLink(Path.Combine(daemon.Archive, day, action, "link.png"), "/etc/passwd");
        var outside = Directory.CreateDirectory(_root.Combine("outside", "pass")).FullName;
        File.Copy("/etc/passwd", Path.Combine(outside, "passwd.png"));
        Directory.CreateSymbolicLink(Path.Combine(daemon.Archive, "2020-01-01"), Path.GetDirectoryName(outside)!);

        using var http = new HttpClient { BaseAddress = new Uri(address) };
        // The control: the real image is served, so a refusal below is the path rule, not a broken route.
        using (var ok = await http.GetAsync($"/api/image?path={Uri.EscapeDataString(real)}"))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("image/png", ok.Content.Headers.ContentType?.MediaType);
        }

        string[] payloads =
        [
            "/etc/passwd", "../../../../../../etc/passwd", "..%2F..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "%252e%252e%252fetc%252fpasswd", $"{day}/{action}/../../../../../etc/passwd", $"{day}/{action}/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
            $"{day}/{action}/..\\..\\..\\..\\etc\\passwd", $"{day}/{action}/link.png", "2020-01-01/pass/passwd.png", $"{day}/../../../etc/passwd",
            $"{day}/{action}/%00/etc/passwd", $"{day}/{action}//etc/passwd", "file:///etc/passwd", $"{day}/{action}/{name}/../../../../../etc/passwd",
        ];
        var requests = new List<string>();
        foreach (var payload in payloads)
        {
            var encoded = Uri.EscapeDataString(payload);
            requests.AddRange([
                $"/api/image?path={payload}", $"/api/image?size=full&path={encoded}", $"/api/verdict?path={encoded}", $"/api/verdict?path={payload}",
                $"/api/archive/list?day={encoded}&action=pass", $"/api/archive/list?day={day}&action={encoded}",
            ]);
        }

        foreach (var request in requests)
        {
            using var response = await http.GetAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain(WebDaemon.PasswdMarker, body);
            Assert.True(response.StatusCode != HttpStatusCode.OK || request.StartsWith("/api/archive/list", StringComparison.Ordinal), $"{request} answered 200");
        }

        // Raw request lines, which HttpClient would normalise: the server sees the dots and encodings as sent.
        foreach (var target in new[] { "/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/app.js/../../../etc/passwd", "//etc/passwd", "/api/..%2f..%2f..%2fetc/passwd", "/api/image/../../../etc/passwd" })
        {
            var reply = await RawGetAsync(address, target);
            Assert.DoesNotContain(WebDaemon.PasswdMarker, reply);
        }

        // Labelling cannot copy from (or write to) outside either.
        foreach (var payload in payloads)
        {
            using var post = new HttpRequestMessage(HttpMethod.Post, "/api/label")
            {
                Content = new StringContent($"{{\"path\":{System.Text.Json.JsonSerializer.Serialize(payload)},\"label\":\"clean\"}}", Encoding.UTF8, "application/json"),
            };
            post.Headers.Add(WebPage.IntentHeader, "label");
            using var response = await http.SendAsync(post);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        using (var traversalLabel = new HttpRequestMessage(HttpMethod.Post, "/api/label")
        {
            Content = new StringContent($"{{\"path\":\"{real}\",\"label\":\"../../../tmp\"}}", Encoding.UTF8, "application/json"),
        })
        {
            traversalLabel.Headers.Add(WebPage.IntentHeader, "label");
            using var response = await http.SendAsync(traversalLabel);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        Assert.False(Directory.Exists(Path.Combine(root, "dataset")), "nothing may have been labelled");
    }

    [Fact]
    public async Task A_lan_bind_needs_a_token_and_read_tokens_cannot_label_nor_can_a_cross_site_post()
    {
        var root = _root.Combine("daemon");
        var tokens = WebDaemon.WriteTokens(_root.Combine("secrets"), ("alice", "label", LabelToken), ("viewer", "read", ReadToken));
        // 127.0.0.2 stands for the LAN: only 127.0.0.1 and ::1 count as this machine alone, so the token rules apply.
        await using var daemon = await DaemonUnderTest.StartAsync(root, DaemonUnderTest.Embedded(FreePort.Next()), WebDaemon.PageSettings(root, "127.0.0.2", 0, tokens));
        var address = daemon.Host.Services.GetRequiredService<WebPage>().Address!;
        Assert.StartsWith("http://127.0.0.2:", address, StringComparison.Ordinal);
        var name = (await WebDaemon.DropAndWaitArchivedAsync(images, daemon.Drop, daemon.Archive, 1))[0];
        var real = WebDaemon.ArchivePathOf(daemon.Archive, name);
        using var http = new HttpClient { BaseAddress = new Uri(address) };

        foreach (var path in new[] { "/api/health", "/api/recent", "/api/whoami", "/api/events", "/api/archive/days", $"/api/image?path={real}" })
        {
            using var anonymous = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            using var wrong = await Send(http, HttpMethod.Get, path, "not-a-token-0123456789");
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using (var page = await http.GetAsync("/"))
        {
            // The page itself is served (it holds no data and asks for the token).
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }

        using (var reader = await Send(http, HttpMethod.Get, "/api/health", ReadToken))
        {
            Assert.Equal(HttpStatusCode.OK, reader.StatusCode);
        }

        var body = $"{{\"path\":\"{real}\",\"label\":\"crack\"}}";
        using (var readerLabels = await Send(http, HttpMethod.Post, "/api/label", ReadToken, body, intent: true))
        {
            Assert.Equal(HttpStatusCode.Forbidden, readerLabels.StatusCode);
        }

        using (var noIntent = await Send(http, HttpMethod.Post, "/api/label", LabelToken, body, intent: false))
        {
            Assert.Equal(HttpStatusCode.Forbidden, noIntent.StatusCode);
        }

        using (var crossSite = await Send(http, HttpMethod.Post, "/api/label", LabelToken, body, intent: true, origin: "http://attacker.example"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, crossSite.StatusCode);
        }

        // The browser attaches the cookie to a forged post by itself: the cookie alone must not be enough.
        using (var cookieOnly = new HttpRequestMessage(HttpMethod.Post, "/api/label") { Content = new StringContent(body, Encoding.UTF8, "application/json") })
        {
            cookieOnly.Headers.Add("Cookie", $"{WebPage.CookieName}={LabelToken}");
            cookieOnly.Headers.Add(WebPage.IntentHeader, "label");
            using var response = await http.SendAsync(cookieOnly);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }

        Assert.False(Directory.Exists(Path.Combine(root, "dataset")), "no refused post may have labelled");
        using (var labeller = await Send(http, HttpMethod.Post, "/api/label", LabelToken, body, intent: true, origin: address))
        {
            Assert.Equal(HttpStatusCode.OK, labeller.StatusCode);
        }

        var csv = File.ReadAllLines(Path.Combine(root, "dataset", LabelledDataset.CsvName));
        Assert.Equal(LabelledDataset.CsvHeader, csv[0]);
        var row = LabelledDataset.ParseRow(csv[1]);
        Assert.Equal(["crack", "alice", real], [row[2], row[3], row[10]]);
    }

    [Fact]
    public async Task Over_tls_the_page_answers_https_only_with_its_own_certificate_and_still_needs_a_token()
    {
        var root = _root.Combine("daemon");
        var tokens = WebDaemon.WriteTokens(_root.Combine("secrets"), ("viewer", "read", ReadToken));
        var (certificateFile, keyFile, thumbprint) = WriteSelfSignedCertificate(_root.Combine("tls"), IPAddress.Parse("127.0.0.2"));
        List<string> settings = [.. WebDaemon.PageSettings(root, "127.0.0.2", 0, tokens), $"--Web:CertificateFile={certificateFile}", $"--Web:CertificateKeyFile={keyFile}"];
        await using var daemon = await DaemonUnderTest.StartAsync(root, DaemonUnderTest.Embedded(FreePort.Next()), settings);
        var address = daemon.Host.Services.GetRequiredService<WebPage>().Address!;
        Assert.StartsWith("https://127.0.0.2:", address, StringComparison.Ordinal);
        var real = WebDaemon.ArchivePathOf(daemon.Archive, (await WebDaemon.DropAndWaitArchivedAsync(images, daemon.Drop, daemon.Archive, 1))[0]);

        // The client trusts exactly the certificate this test made (pinned by its SHA-256), nothing else.
        var presented = new List<string>();
        using var pinned = new SocketsHttpHandler { UseCookies = false };
        pinned.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            presented.Add(certificate?.GetCertHashString(HashAlgorithmName.SHA256) ?? "none");
            return certificate?.GetCertHashString(HashAlgorithmName.SHA256) == thumbprint;
        };
        using var http = new HttpClient(pinned) { BaseAddress = new Uri(address) };

        using (var anonymous = await http.GetAsync("/api/health"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using (var wrong = await Send(http, HttpMethod.Get, "/api/health", "not-a-token-0123456789"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using (var reader = await Send(http, HttpMethod.Get, $"/api/image?path={Uri.EscapeDataString(real)}", ReadToken))
        {
            Assert.Equal(HttpStatusCode.OK, reader.StatusCode);
            Assert.Equal("image/png", reader.Content.Headers.ContentType?.MediaType);
        }

        using (var login = await Send(http, HttpMethod.Post, "/api/login", ReadToken, "{}", intent: true, origin: address))
        {
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
            // Over TLS the cookie never goes back over plain HTTP.
            var cookie = Assert.Single(login.Headers.GetValues("Set-Cookie"));
            Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        }

        Assert.NotEmpty(presented);
        Assert.All(presented, hash => Assert.Equal(thumbprint, hash));

        // A client that does not know the certificate gets no answer (no fallback that skips it).
        using (var untrusting = new HttpClient { BaseAddress = new Uri(address) })
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.GetAsync("/api/health"));
        }

        // Plain HTTP on the same port gets no page: the token would otherwise cross the LAN in clear.
        using var plain = new HttpClient { BaseAddress = new Uri(address.Replace("https://", "http://", StringComparison.Ordinal)) };
        try
        {
            using var response = await Send(plain, HttpMethod.Get, "/api/health", ReadToken);
            Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        }
        catch (HttpRequestException)
        {
            // Kestrel closes a connection that does not start with a TLS handshake.
        }
    }

    [Fact]
    public async Task Live_thumbnails_are_the_model_input_served_even_in_a_burst_and_an_evicted_one_is_decoded_only_while_no_image_waits()
    {
        var root = _root.Combine("daemon");
        // One live thumbnail: of two images, the one inspected first has lost its slot to the second.
        await using var daemon = await DaemonUnderTest.StartAsync(
            root, DaemonUnderTest.Embedded(FreePort.Next()), [.. WebDaemon.PageSettings(root, "127.0.0.1", 0), "--Web:LiveThumbnails=1"]);
        var address = daemon.Host.Services.GetRequiredService<WebPage>().Address!;
        var ring = daemon.Host.Services.GetRequiredService<ThumbnailRing>();
        var paths = (await WebDaemon.DropAndWaitArchivedAsync(images, daemon.Drop, daemon.Archive, 2)).Select(n => WebDaemon.ArchivePathOf(daemon.Archive, n)).ToList();
        await Eventually.TrueAsync(() => paths.Count(p => ring.Png(p) is not null) == 1, "the newest image's thumbnail in the ring", seconds: 60);
        var live = paths.Single(p => ring.Png(p) is not null);
        var evicted = paths.Single(p => p != live);
        using var http = new HttpClient { BaseAddress = new Uri(address) };
        async Task<(HttpStatusCode Status, byte[] Body, bool RetryAfter)> Thumbnail(string path, string size = "thumb")
        {
            using var response = await http.GetAsync($"/api/image?size={size}&path={Uri.EscapeDataString(path)}");
            return (response.StatusCode, await response.Content.ReadAsByteArrayAsync(), response.Headers.RetryAfter is not null);
        }

        // What the model saw (the fixture models take 128x128 of the 256x256 image): the archived image reduced the same way.
        var fromRing = await Thumbnail(live);
        Assert.Equal(HttpStatusCode.OK, fromRing.Status);
        Assert.Equal(ring.Png(live), fromRing.Body);
        var (pixels, width, height) = PngGray.Decode(fromRing.Body);
        Assert.Equal((128, 128), (width, height));
        var (archived, archivedWidth, archivedHeight) = PngGray.Decode(PageImages.RenderPng(Path.Combine(daemon.Archive, live), 256, long.MaxValue));
        var reduced = Grey8Pixels.AreaResize(archived, archivedWidth, archivedHeight, 128, 128);
        Assert.True(pixels.Zip(reduced).Average(x => Math.Abs(x.First - x.Second)) < 2, "the live thumbnail is not the image");

        // An image queued behind the one being inspected, as in a burst (the pipeline's own progress record).
        var progress = daemon.Host.Services.GetRequiredService<PipelineProgress>();
        progress.Enqueued();
        try
        {
            Assert.Equal(HttpStatusCode.OK, (await Thumbnail(live)).Status); // no decode: served in a burst too
            var deferred = await Thumbnail(evicted);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, deferred.Status);
            Assert.True(deferred.RetryAfter);
            var opened = await Thumbnail(evicted, "full");
            Assert.Equal(HttpStatusCode.OK, opened.Status);
            Assert.Equal((256, 256), (PngGray.Decode(opened.Body).Width, PngGray.Decode(opened.Body).Height));
        }
        finally
        {
            progress.Dequeued();
        }

        // No image waits: the evicted one is decoded from the archive (at the archive browser's thumbnail size).
        var decoded = await Thumbnail(evicted);
        Assert.Equal(HttpStatusCode.OK, decoded.Status);
        Assert.Equal((PageImages.ThumbnailSize, PageImages.ThumbnailSize), (PngGray.Decode(decoded.Body).Width, PngGray.Decode(decoded.Body).Height));

        // A path that is not in the archive is not found, ring or not.
        Assert.Equal(HttpStatusCode.NotFound, (await Thumbnail(live.Replace(".png", "-gone.png", StringComparison.Ordinal))).Status);
    }

    [Fact]
    public async Task A_page_that_cannot_listen_leaves_inspection_running()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var root = _root.Combine("daemon");
        await using var daemon = await DaemonUnderTest.StartAsync(root, DaemonUnderTest.Embedded(FreePort.Next()), WebDaemon.PageSettings(root, "127.0.0.1", port));
        Assert.Null(daemon.Host.Services.GetRequiredService<WebPage>().Address);
        await WebDaemon.DropAndWaitArchivedAsync(images, daemon.Drop, daemon.Archive, 2);
        Assert.Equal(2, daemon.Counters.Inspected);
    }

    [Fact]
    public void A_lan_bind_without_a_token_file_or_with_a_token_file_others_can_read_is_refused_at_start()
    {
        var site = _root.Combine("site.json");
        File.WriteAllText(site, "{}");
        var loose = WebDaemon.WriteTokens(_root.Combine("loose"), ("alice", "label", LabelToken));
        File.SetUnixFileMode(loose, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        IReadOnlyList<string> Problems(params string[] overrides)
        {
            using var host = DaemonHost.Build(new DaemonHostSettings { SiteConfig = site, ReadEnvironment = false, Overrides = overrides });
            return DaemonHost.CheckSettings(host.Services);
        }

        Assert.Contains(Problems("--Web:Enabled=true", "--Web:BindAddress=0.0.0.0"), p => p.Contains("needs Web:TokenFile", StringComparison.Ordinal));
        Assert.Contains(Problems("--Web:Enabled=true", "--Web:BindAddress=127.0.0.2"), p => p.Contains("needs Web:TokenFile", StringComparison.Ordinal));
        Assert.Contains(Problems("--Web:Enabled=true", "--Web:BindAddress=0.0.0.0", $"--Web:TokenFile={loose}"), p => p.Contains("chmod 600", StringComparison.Ordinal));
        Assert.Empty(Problems("--Web:Enabled=true", "--Web:BindAddress=127.0.0.1"));
    }

    /// <summary>A self-signed certificate for <paramref name="address"/>, written as PEM files the way an admin would install them.</summary>
    private static (string Certificate, string Key, string Sha256) WriteSelfSignedCertificate(string folder, IPAddress address)
    {
        Directory.CreateDirectory(folder);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=semedge-test-page", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(address);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certificateFile = Path.Combine(folder, "page.pem");
        var keyFile = Path.Combine(folder, "page.key");
        File.WriteAllText(certificateFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return (certificateFile, keyFile, certificate.GetCertHashString(HashAlgorithmName.SHA256));
    }

    private static async Task<HttpResponseMessage> Send(HttpClient http, HttpMethod method, string path, string token, string? body = null, bool intent = false, string? origin = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        if (intent)
        {
            request.Headers.Add(WebPage.IntentHeader, "label");
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin.TrimEnd('/'));
        }

        if (path == "/api/events")
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        }

        return await http.SendAsync(request);
    }

    private static async Task<string> RawGetAsync(string address, string target)
    {
        var uri = new Uri(address);
        using var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        await using var stream = client.GetStream();
        var request = Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: {uri.Authority}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(request);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await reader.ReadToEndAsync(cts.Token);
    }
}
