using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using SemEdge.Actuation;
using SemEdge.Hosting;
using SemEdge.Pipeline;
using SemEdge.Telemetry;
using SemEdge.Tests.Actuation;
using SemEdge.Tests.Platform;
using SemEdge.Tests.Publishing;

namespace SemEdge.Tests.EndToEnd;

/// <summary>
/// The daemon built by its real composition root (<see cref="DaemonHost"/>) inside the test process, with its
/// folders in a temp folder, the inference fixture models, and the GPIO chip replaced at the library's seam by a
/// driver that records every edge.
/// </summary>
internal sealed class DaemonUnderTest : IAsyncDisposable
{
    public const int RejectLine = 17;
    public const int ReviewLine = 27;

    private DaemonUnderTest(string root, IHost host, RecordingGpioDriver gpio, FakeLogger<RejectLines> rejectLog, FakeLogCollector log)
    {
        Root = root;
        Host = host;
        Gpio = gpio;
        RejectLog = rejectLog;
        Log = log;
    }

    /// <summary>What RejectLines logged: one "pulse for IMAGE (seq N) started|extends" line per signalled verdict.</summary>
    public FakeLogger<RejectLines> RejectLog { get; }

    /// <summary>Every warning and error the daemon logged.</summary>
    /// <summary>Warnings and errors from every category, as a technician would read them.</summary>
    public FakeLogCollector Log { get; }

    public string Root { get; }

    public IHost Host { get; }

    public RecordingGpioDriver Gpio { get; }

    public string Drop => Path.Combine(Root, "drop");

    public string Archive => Path.Combine(Root, "archive");

    public string Quarantine => Path.Combine(Root, "quarantine");

    public string Processing => Path.Combine(Root, "processing");

    public PipelineCounters Counters => Host.Services.GetRequiredService<PipelineCounters>();

    public static string FixtureModels => Path.Combine(RepoPaths.Root, "tests", "fixtures", "models");

    /// <summary>Settings every in-process daemon gets; <paramref name="extra"/> come last and win.</summary>
    public static List<string> Settings(string root, string mqtt, IEnumerable<string>? extra = null) =>
    [
        $"--Ingest:DropFolder={Path.Combine(root, "drop")}",
        $"--Ingest:ProcessingFolder={Path.Combine(root, "processing")}",
        $"--Ingest:ArchiveFolder={Path.Combine(root, "archive")}",
        $"--Ingest:QuarantineFolder={Path.Combine(root, "quarantine")}",
        "--Ingest:StableFor=00:00:00.3",
        "--Ingest:RescanInterval=00:00:00.5",
        // The tests count archived images: free-space retention must not thin the archive on a full CI disk.
        "--Ingest:ArchiveMinFreeBytes=0",
        $"--Outbox:Path={Path.Combine(root, "outbox")}",
        .. mqtt.Split(' ', StringSplitOptions.RemoveEmptyEntries),
        "--Mqtt:NodeId=test",
        "--Mqtt:ReconnectMin=00:00:00.1",
        "--Mqtt:ReconnectMax=00:00:00.5",
        // Signed copies: the daemon refuses a manifest without a valid signature by a trusted key.
        $"--Inference:ClassifierManifest={SemEdge.Tests.Inference.TestModels.SignedCopy(Path.Combine(FixtureModels, "classifier.json"), Path.Combine(root, "models"))}",
        $"--Inference:ScreenManifest={SemEdge.Tests.Inference.TestModels.SignedCopy(Path.Combine(FixtureModels, "screen.json"), Path.Combine(root, "models"))}",
        SemEdge.Tests.Inference.TestModels.TrustSetting,
        "--Inference:Threads=1",
        "--Gpio:Driver=simulated",
        $"--Gpio:Reject:Line={RejectLine}",
        $"--Gpio:Review:Line={ReviewLine}",
        "--Gpio:Ready:Line=22",
        "--Gpio:Fault:Line=23",
        "--Pipeline:ModelCheckInterval=00:00:00",
        "--Logging:LogLevel:Default=Warning",
        // appsettings.json turns the page on at port 8080 for a technician; tests that want it say so (Web/).
        "--Web:Enabled=false",
        .. extra ?? [],
    ];

    /// <summary>MQTT settings for an external broker (mosquitto) on <paramref name="port"/>.</summary>
    public static string External(int port) => $"--Mqtt:Mode=external --Mqtt:Host=127.0.0.1 --Mqtt:Port={port}";

    /// <summary>MQTT settings for the daemon's embedded broker on <paramref name="port"/>.</summary>
    public static string Embedded(int port) => $"--Mqtt:Mode=embedded --Mqtt:Embedded:Port={port}";

    /// <summary>A log collector that keeps warnings and errors only (what a daemon test looks for).</summary>
    public static FakeLogCollector WarningsAndErrors() =>
        FakeLogCollector.Create(new FakeLogCollectorOptions { FilteredLevels = { LogLevel.Warning, LogLevel.Error, LogLevel.Critical } });

    /// <summary>The daemon on its embedded broker with <paramref name="inspector"/> in place of the ONNX models.</summary>
    public static Task<DaemonUnderTest> StartWithInspectorAsync(
        string root, IInspector inspector, IEnumerable<string> extra, ServiceManagerEnvironment? serviceManager = null) =>
        StartAsync(root, Embedded(FreePort.Next()), extra, serviceManager,
            services => services.Replace(ServiceDescriptor.Singleton<IInspectorLoader>(new Hosting.FakeInspectorLoader(inspector))));

    public static async Task<DaemonUnderTest> StartAsync(
        string root,
        string mqtt,
        IEnumerable<string>? extra = null,
        ServiceManagerEnvironment? serviceManager = null,
        Action<IServiceCollection>? configure = null)
    {
        var gpio = new RecordingGpioDriver(0, TimeProvider.System);
        var rejectLog = new FakeLogger<RejectLines>();
        var log = WarningsAndErrors();
        var host = DaemonHost.Build(new DaemonHostSettings
        {
            Overrides = Settings(root, mqtt, extra),
            ReadEnvironment = false,
            SiteConfig = WriteEmptySiteConfig(root),
            ServiceManager = serviceManager ?? new ServiceManagerEnvironment(null, null),
            ConfigureServices = services =>
            {
                services.AddSingleton(sp => new RejectLines(
                    sp.GetRequiredService<IOptions<GpioOptions>>().Value, _ => gpio, TimeProvider.System, rejectLog));
                services.AddSingleton<ILoggerProvider>(new FakeLoggerProvider(log));
                if (serviceManager?.NotifySocket is { } notifySocket)
                {
                    services.Replace(ServiceDescriptor.Singleton(Hosting.NotifierAt.Socket(notifySocket)));
                }

                configure?.Invoke(services);
            },
        });
        await host.StartAsync();
        await host.Services.GetRequiredService<PipelineProgress>().Ready.WaitAsync(TimeSpan.FromSeconds(60));
        return new DaemonUnderTest(root, host, gpio, rejectLog, log);
    }

    /// <summary>Rising edges on <paramref name="line"/> after it was opened: one per pulse.</summary>
    public int Pulses(int line)
    {
        var levels = Gpio.EdgesOf(line).Where(e => e.Kind != "open" && e.Level is not null).Select(e => e.Level!.Value).ToList();
        return levels.Where((level, i) => level == System.Device.Gpio.PinValue.High && (i == 0 || levels[i - 1] == System.Device.Gpio.PinValue.Low)).Count();
    }

    public async ValueTask DisposeAsync()
    {
        await Host.StopAsync();
        Host.Dispose();
    }

    /// <summary>So a developer's /etc/semedge/semedge.json cannot leak into a test.</summary>
    private static string WriteEmptySiteConfig(string root)
    {
        Directory.CreateDirectory(root);
        var path = Path.Combine(root, "site.json");
        File.WriteAllText(path, "{}\n");
        return path;
    }
}
