using System.Net;
using System.Reflection;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SemEdge.Imaging;

namespace SemEdge.Web;

/// <summary>
/// The technician's page: its own Kestrel server (a separate small web host, so nothing of ASP.NET Core enters the
/// daemon's container), started with the daemon and stopped with it. Plain HTML/JS/CSS from embedded resources;
/// JSON, PNG and server-sent events under <c>/api</c>. Security rules: docs/web.md.
/// </summary>
public sealed class WebPage(
    IOptions<WebOptions> options,
    WebState state,
    ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    public const string CookieName = "semedge_token";
    public const string IntentHeader = "X-SemEdge-Intent";
    private const string CallerKey = "semedge.caller";

    private readonly WebOptions _options = options.Value;
    private readonly ILogger _logger = loggers.CreateLogger<WebPage>();
    private readonly CancellationTokenSource _stopping = new();
    private WebApplication? _app;
    private Task? _feed;
    private WebTokens? _tokens;

    /// <summary>The address the page listens on (the port resolved when 0 was asked for); null before start.</summary>
    public string? Address { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _tokens = _options.TokenFile is { } file ? WebTokens.Load(file) : null;
        _app = Build();
        _feed = Task.Run(() => RunFeedAsync(_stopping.Token), CancellationToken.None);
        try
        {
            await _app.StartAsync(cancellationToken);
        }
        catch (IOException ex)
        {
            // E.g. the port is taken. The line must keep inspecting: the page is a view, not part of the job.
            _logger.LogError("The web page cannot listen on {Bind}:{Port} ({Reason}); inspecting without it", _options.BindAddress, _options.Port, ex.Message);
            Console.Error.WriteLine($"semedge: web page NOT served: {ex.Message}");
            await _app.DisposeAsync();
            _app = null;
            return;
        }

        Address = _app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        // Printed, not only logged: the technician running `scripts/semedge run` needs the address whatever the log level.
        Console.Out.WriteLine($"semedge: web page at {Address}/{(_tokens is null ? string.Empty : " (token required)")}");
        _logger.LogInformation("Web page at {Address} ({Tokens})", Address, _tokens is null ? "no tokens: local only" : $"{_tokens.Count} tokens");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
        }

        if (_feed is not null)
        {
            await _feed.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        _stopping.Dispose();
    }

    private async Task RunFeedAsync(CancellationToken cancellationToken)
    {
        var prune = Task.Run(() => PruneJournalAsync(cancellationToken), cancellationToken);
        try
        {
            await state.Feed.RunAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }

        await prune.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    private async Task PruneJournalAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(10), state.Time);
        do
        {
            try
            {
                state.Journal.Prune();
            }
            catch (IOException ex)
            {
                _logger.LogWarning("Could not prune the page's verdict journal: {Reason}", ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }

    private WebApplication Build()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "semedge-web" });
        builder.Services.RemoveAll<ILoggerFactory>();
        builder.Services.AddSingleton(loggers);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = 64;
            kestrel.Limits.MaxRequestBodySize = 16 * 1024;
            kestrel.Listen(IPAddress.Parse(_options.BindAddress), _options.Port, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                if (_options.CertificateFile is { } cert)
                {
                    listen.UseHttps(X509Certificate2.CreateFromPemFile(cert, _options.CertificateKeyFile));
                }
            });
        });
        builder.Services.AddRateLimiter(limits =>
        {
            limits.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limits.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context => RateLimitPartition.GetFixedWindowLimiter(
                context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = _options.RequestsPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
            limits.AddPolicy("label", context => RateLimitPartition.GetFixedWindowLimiter(
                context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = _options.LabelsPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
            limits.AddConcurrencyLimiter("events", o =>
            {
                o.PermitLimit = _options.MaxEventStreams;
                o.QueueLimit = 0;
            });
        });

        var app = builder.Build();
        app.Use(GuardAsync);
        app.UseRateLimiter();
        var assets = LoadAssets();
        foreach (var (route, asset) in assets)
        {
            app.MapGet(route, context => WriteAsset(context, asset));
        }

        app.MapGet("/api/whoami", context => Json(context, new WhoAmI(Caller(context).Name, Caller(context).Role == WebRole.Label ? "label" : "read", state.Classes()), WebJsonContext.Default.WhoAmI));
        app.MapGet("/api/recent", context => Json(context, state.Feed.Recent(), WebJsonContext.Default.IReadOnlyListPageVerdict));
        app.MapGet("/api/health", context => Json(context, state.Health(), WebJsonContext.Default.HealthReport));
        app.MapGet("/api/events", EventsAsync).RequireRateLimiting("events");
        app.MapGet("/api/archive/days", context => Json(
            context, (IReadOnlyList<DayEntry>)[.. state.Archive.Days().Select(d => new DayEntry(d.Day, d.Counts))], WebJsonContext.Default.IReadOnlyListDayEntry));
        app.MapGet("/api/archive/list", context => Json(
            context, state.List(context.Request.Query["day"], context.Request.Query["action"]), WebJsonContext.Default.IReadOnlyListArchiveEntry));
        app.MapGet("/api/review", context => Json(context, state.ReviewQueue(), WebJsonContext.Default.IReadOnlyListArchiveEntry));
        app.MapGet("/api/verdict", VerdictAsync);
        app.MapGet("/api/image", ImageAsync);
        app.MapPost("/api/login", LoginAsync);
        app.MapPost("/api/label", LabelAsync).RequireRateLimiting("label");
        return app;
    }

    /// <summary>Host check, identity, and the cross-site rules for posts; every request passes here first.</summary>
    private async Task GuardAsync(HttpContext context, RequestDelegate next)
    {
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'";

        // A page on 127.0.0.1 answers to its own names only: DNS rebinding cannot make it another site's.
        if (_options.IsLocalBind && context.Request.Host.Host is not ("127.0.0.1" or "localhost" or "[::1]" or "::1"))
        {
            await Error(context, StatusCodes.Status421MisdirectedRequest, "unknown host");
            return;
        }

        if (!context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
        {
            // The page itself (HTML, JS, CSS) holds no data; it asks for a token when the API refuses.
            await next(context);
            return;
        }

        var fromHeader = BearerToken(context);
        WebCaller? caller = _tokens is null
            ? new WebCaller("local", WebRole.Label)
            : _tokens.Find(fromHeader) ?? _tokens.Find(context.Request.Cookies[CookieName]);
        if (caller is null)
        {
            await Error(context, StatusCodes.Status401Unauthorized, "a token is required");
            return;
        }

        if (HttpMethods.IsPost(context.Request.Method))
        {
            // Cross-site request forgery: a post must carry a custom header (a cross-site page cannot send one without
            // a CORS preflight, which is never answered), come from this origin, and with tokens carry the token in
            // the Authorization header, not only the cookie the browser would attach by itself.
            var origin = context.Request.Headers.Origin.ToString();
            var site = context.Request.Headers["Sec-Fetch-Site"].ToString();
            var self = $"{context.Request.Scheme}://{context.Request.Host}";
            if (context.Request.Headers[IntentHeader].Count == 0 ||
                (origin.Length > 0 && !string.Equals(origin, self, StringComparison.OrdinalIgnoreCase)) ||
                (site.Length > 0 && site is not ("same-origin" or "none")) ||
                (_tokens is not null && _tokens.Find(fromHeader) is null))
            {
                await Error(context, StatusCodes.Status403Forbidden, "cross-site or incomplete request refused");
                return;
            }
        }

        context.Items[CallerKey] = caller;
        await next(context);
    }

    private async Task EventsAsync(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        using var subscription = state.Feed.Subscribe();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        var cancellationToken = stop.Token;
        try
        {
            await context.Response.WriteAsync("retry: 2000\n: connected\n\n", cancellationToken);
            await context.Response.Body.FlushAsync(cancellationToken);
            while (!cancellationToken.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                wait.CancelAfter(TimeSpan.FromSeconds(15));
                try
                {
                    await subscription.Reader.WaitToReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    await context.Response.WriteAsync(": keep-alive\n\n", cancellationToken);
                    await context.Response.Body.FlushAsync(cancellationToken);
                    continue;
                }

                var batch = new StringBuilder();
                while (subscription.Reader.TryRead(out var verdict))
                {
                    batch.Append("id: ").Append(verdict.Seq).Append("\nevent: verdict\ndata: ")
                        .Append(JsonSerializer.Serialize(verdict, WebJsonContext.Default.PageVerdict)).Append("\n\n");
                }

                await context.Response.WriteAsync(batch.ToString(), cancellationToken);
                await context.Response.Body.FlushAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // The browser went away, or the daemon stops.
        }
    }

    private Task VerdictAsync(HttpContext context)
    {
        string? relative = context.Request.Query["path"];
        if (!state.Archive.TryResolve(relative, out _) || state.Journal.Find(relative!) is not { } verdict)
        {
            return Error(context, StatusCodes.Status404NotFound, "not found");
        }

        return Json(context, verdict, WebJsonContext.Default.PageVerdict);
    }

    private async Task ImageAsync(HttpContext context)
    {
        string? relative = context.Request.Query["path"];
        if (!state.Archive.TryResolve(relative, out var file))
        {
            await Error(context, StatusCodes.Status404NotFound, "not found");
            return;
        }

        var full = context.Request.Query["size"] == "full";
        if (!full && state.Thumbnails.Png(relative!) is { } live)
        {
            // The live view's thumbnails: the model input the pipeline already made, kept in memory (no decode).
            await WritePng(context, live);
            return;
        }

        if (!full && state.ImagesWaiting)
        {
            // A thumbnail from the archive costs about one image decode: while images wait for inspection the page asks
            // again later, so browsing the archive in a burst does not slow the line. The full image a technician
            // opened is always served.
            context.Response.Headers.RetryAfter = "2";
            await Error(context, StatusCodes.Status503ServiceUnavailable, "inspecting: thumbnail later");
            return;
        }

        byte[] png;
        try
        {
            png = PageImages.RenderPng(file, full ? PageImages.FullSize : PageImages.ThumbnailSize, state.MaxPixels);
        }
        catch (Exception ex) when (ex is ImageRejectedException or IOException)
        {
            await Error(context, StatusCodes.Status422UnprocessableEntity, "the file cannot be shown");
            return;
        }

        await WritePng(context, png);
    }

    private static Task WritePng(HttpContext context, byte[] png)
    {
        context.Response.ContentType = "image/png";
        context.Response.Headers.CacheControl = "private, max-age=3600";
        return context.Response.Body.WriteAsync(png, context.RequestAborted).AsTask();
    }

    private Task LoginAsync(HttpContext context)
    {
        var caller = Caller(context);
        if (_tokens is not null && BearerToken(context) is { } token)
        {
            context.Response.Cookies.Append(CookieName, token, new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Strict,
                Secure = context.Request.IsHttps,
                Path = "/",
            });
        }

        return Json(context, new WhoAmI(caller.Name, caller.Role == WebRole.Label ? "label" : "read", state.Classes()), WebJsonContext.Default.WhoAmI);
    }

    private async Task LabelAsync(HttpContext context)
    {
        var caller = Caller(context);
        if (caller.Role != WebRole.Label)
        {
            await Error(context, StatusCodes.Status403Forbidden, "this token may read, not label");
            return;
        }

        LabelRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(context.Request.Body, WebJsonContext.Default.LabelRequest, context.RequestAborted);
        }
        catch (JsonException)
        {
            request = null;
        }

        if (request?.Path is not { } relative || !state.Archive.TryResolve(relative, out var source))
        {
            await Error(context, StatusCodes.Status404NotFound, "not found");
            return;
        }

        var classes = state.Classes();
        if (request.Label is not { } label || !classes.Contains(label))
        {
            await Error(context, StatusCodes.Status400BadRequest, $"label must be one of {string.Join(", ", classes)}");
            return;
        }

        var result = await state.Dataset.LabelAsync(source, relative, label, caller, state.Journal.Find(relative), context.RequestAborted);
        _logger.LogInformation("{Caller} labelled {Image} as {Label} ({Split})", caller.Name, relative, label, result.Split);
        await Json(context, result, WebJsonContext.Default.LabelResult);
    }

    private static WebCaller Caller(HttpContext context) => (WebCaller)context.Items[CallerKey]!;

    private static string? BearerToken(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : null;
    }

    private static Task Json<T>(HttpContext context, T value, JsonTypeInfo<T> type)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return JsonSerializer.SerializeAsync(context.Response.Body, value, type, context.RequestAborted);
    }

    private static Task Error(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return Json(context, new ErrorReply(message), WebJsonContext.Default.ErrorReply);
    }

    private static Task WriteAsset(HttpContext context, (string Type, byte[] Bytes) asset)
    {
        context.Response.ContentType = asset.Type;
        context.Response.Headers.CacheControl = "no-cache";
        return context.Response.Body.WriteAsync(asset.Bytes, context.RequestAborted).AsTask();
    }

    private static Dictionary<string, (string Type, byte[] Bytes)> LoadAssets()
    {
        var assembly = typeof(WebPage).Assembly;
        (string, byte[]) Read(string name, string type)
        {
            using var stream = assembly.GetManifestResourceStream("web/" + name) ?? throw new InvalidOperationException($"embedded web/{name} is missing");
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            return (type, memory.ToArray());
        }

        return new Dictionary<string, (string, byte[])>
        {
            ["/"] = Read("index.html", "text/html; charset=utf-8"),
            ["/app.js"] = Read("app.js", "text/javascript; charset=utf-8"),
            ["/app.css"] = Read("app.css", "text/css; charset=utf-8"),
        };
    }
}
