using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SemEdge.Cli;
using SemEdge.Hosting;
using SemEdge.Inference;
using SemEdge.Ingest;
using SemEdge.Pipeline;
using SemEdge.Tests.Platform;

namespace SemEdge.Tests.Hosting;

public sealed class DaemonHostTests : IDisposable
{
    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    private string Site(string json)
    {
        var path = _root.Combine($"site-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void Site_file_overrides_the_shipped_defaults_and_arguments_override_the_site_file()
    {
        var site = Site("""
            // comments are allowed, as in platform/semedge.json
            { "Ingest": { "DropFolder": "/site/drop", "StableFor": "00:00:02" }, "Pipeline": { "QueueCapacity": 3 } }
            """);
        using var host = DaemonHost.Build(new DaemonHostSettings
        {
            SiteConfig = site,
            ReadEnvironment = false,
            Overrides = ["--Ingest:StableFor=00:00:00.25"],
        });

        var ingest = host.Services.GetRequiredService<IOptions<IngestOptions>>().Value;
        Assert.Equal("/site/drop", ingest.DropFolder);
        Assert.Equal(TimeSpan.FromMilliseconds(250), ingest.StableFor);
        Assert.Equal("var/archive", ingest.ArchiveFolder); // from appsettings.json beside the executable
        Assert.Equal(3, host.Services.GetRequiredService<IOptions<PipelineOptions>>().Value.QueueCapacity);
        Assert.Empty(DaemonHost.CheckSettings(host.Services));
    }

    [Fact]
    public void The_board_config_keeps_the_measured_thread_worker_and_screen_defaults()
    {
        // platform/semedge.json is what scripts/flash installs, so a value there overrides the code's default on every
        // board. It kept Inference:Threads 2 after the default became 1: each model's own pool on top of the decode
        // workers oversubscribes the cores (inferred stage p50 29 ms against 1.8 ms, docs/daemon-performance.md).
        using var host = DaemonHost.Build(new DaemonHostSettings
        {
            SiteConfig = Path.Combine(RepoPaths.Platform, "semedge.json"),
            ReadEnvironment = false,
        });

        Assert.Equal(new InferenceOptions().Threads, host.Services.GetRequiredService<IOptions<InferenceOptions>>().Value.Threads);
        var pipeline = host.Services.GetRequiredService<IOptions<PipelineOptions>>().Value;
        Assert.Equal(new PipelineOptions().Workers, pipeline.Workers);
        Assert.Equal(new PipelineOptions().UseShippedScreen, pipeline.UseShippedScreen);
    }

    [Fact]
    public void The_shipped_screen_runs_only_when_asked_for()
    {
        // models/ ships a screen, but one that passes too few clean images to pay for itself (PipelineOptions).
        Assert.True(File.Exists(Path.Combine(RepoPaths.Root, "models", ShippedModels.ScreenFile)));
        using var plain = DaemonHost.Build(new DaemonHostSettings { ReadEnvironment = false });
        using var asked = DaemonHost.Build(new DaemonHostSettings { ReadEnvironment = false, Overrides = ["--Pipeline:UseShippedScreen=true"] });

        Assert.Null(plain.Services.GetRequiredService<ModelFolder>().Choose().ScreenManifest);
        Assert.Equal(
            Path.GetFullPath(Path.Combine(RepoPaths.Root, "models", ShippedModels.ScreenFile)),
            Path.GetFullPath(asked.Services.GetRequiredService<ModelFolder>().Choose().ScreenManifest!));
    }

    [Fact]
    public void Environment_variables_override_the_site_file_but_not_the_arguments()
    {
        var key = "SEMEDGE__Ingest__QuarantineFolder";
        Environment.SetEnvironmentVariable(key, "/env/quarantine");
        try
        {
            using var host = DaemonHost.Build(new DaemonHostSettings
            {
                SiteConfig = Site("""{ "Ingest": { "QuarantineFolder": "/site/q", "ArchiveFolder": "/site/a" } }"""),
                Overrides = ["--Ingest:ArchiveFolder=/arg/a"],
            });
            var ingest = host.Services.GetRequiredService<IOptions<IngestOptions>>().Value;
            Assert.Equal("/env/quarantine", ingest.QuarantineFolder);
            Assert.Equal("/arg/a", ingest.ArchiveFolder);
        }
        finally
        {
            Environment.SetEnvironmentVariable(key, null);
        }
    }

    [Fact]
    public void Every_bad_setting_is_reported_at_once_in_words_before_anything_starts()
    {
        using var host = DaemonHost.Build(new DaemonHostSettings
        {
            SiteConfig = Site("{}"),
            ReadEnvironment = false,
            Overrides = ["--Ingest:StableFor=-00:00:01", "--Pipeline:QueueCapacity=0", "--Systemd:StallLimit=00:00:00"],
        });

        var problems = DaemonHost.CheckSettings(host.Services);

        Assert.Contains("Ingest:StableFor is -00:00:01; use a time between 00:00:00 and 00:10:00.", problems);
        Assert.Contains(problems, p => p.StartsWith("Pipeline:QueueCapacity is 0", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Systemd:StallLimit is 00:00:00", StringComparison.Ordinal));
    }

    [Fact]
    public void A_value_that_does_not_convert_names_its_key()
    {
        using var host = DaemonHost.Build(new DaemonHostSettings
        {
            SiteConfig = Site("{}"),
            ReadEnvironment = false,
            Overrides = ["--Ingest:StableFor=banana"],
        });

        Assert.Contains(DaemonHost.CheckSettings(host.Services), p => p.Contains("Ingest:StableFor", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_exits_with_usage_code_on_bad_settings()
    {
        var code = await SemEdgeCli.RunAsync(
            ["run", "--config", Site("{}"), "--Pipeline:QueueCapacity=0"], CancellationToken.None);
        Assert.Equal(SemEdgeCli.ExitUsage, code);
    }

    // One rule for every settings section: a bad value in any of them, in the site file, stops `semedge run` at
    // start with the usage exit code and one line naming the key; renamed keys are refused, not ignored.

    private static IReadOnlyList<string> Problems(string site)
    {
        using var host = DaemonHost.Build(new DaemonHostSettings { SiteConfig = site, ReadEnvironment = false });
        return DaemonHost.CheckSettings(host.Services);
    }

    [Theory]
    [InlineData("""{ "Ingest": { "StableFor": "-00:00:01" } }""", "Ingest:StableFor is -00:00:01")]
    [InlineData("""{ "Pipeline": { "QueueCapacity": 0 } }""", "Pipeline:QueueCapacity is 0")]
    [InlineData("""{ "Systemd": { "StallLimit": "00:00:00" } }""", "Systemd:StallLimit is 00:00:00")]
    [InlineData("""{ "Inference": { "Threads": 0 } }""", "Inference:Threads is 0")]
    [InlineData("""{ "Decision": { "DefaultMinConfidence": 1.5 } }""", "Decision:DefaultMinConfidence must be between 0 and 1.")]
    [InlineData("""{ "Mqtt": { "Mode": "cloud" } }""", "Mqtt:Mode is 'cloud': use one of embedded, external.")]
    [InlineData("""{ "Mqtt": { "ReconnectMax": "02:00:00" } }""", "Mqtt:ReconnectMax is 02:00:00")]
    [InlineData("""{ "Outbox": { "MaxEntries": 0 } }""", "Outbox:MaxEntries is 0")]
    [InlineData("""{ "Gpio": { "Driver": "sysfs" } }""", "Gpio:Driver is 'sysfs': use one of libgpiod, simulated, none.")]
    [InlineData("""{ "Gpio": { "Reject": { "Pulse": "00:01:00" } } }""", "Gpio:Reject:Pulse is 00:01:00")]
    [InlineData("""{ "Web": { "BindAddress": "board.local" } }""", "Web:BindAddress 'board.local' is not an IP address")]
    public Task A_bad_value_in_any_section_stops_run_at_start_naming_the_key(string json, string message)
        => RunRefusesAsync(json, message);

    [Theory]
    [InlineData("""{ "Mqtt": { "ReconnectMinSeconds": 0.5 } }""", "Mqtt:ReconnectMinSeconds is no longer read: it was renamed Mqtt:ReconnectMin and takes a time, e.g. \"ReconnectMin\": \"00:00:00.5000000\"")]
    [InlineData("""{ "Mqtt": { "KeepAliveSeconds": 15 } }""", "it was renamed Mqtt:KeepAlive ")]
    [InlineData("""{ "Mqtt": { "OperationTimeoutSeconds": 10 } }""", "it was renamed Mqtt:OperationTimeout ")]
    [InlineData("""{ "Mqtt": { "ReconnectMaxSeconds": 30 } }""", "it was renamed Mqtt:ReconnectMax ")]
    [InlineData("""{ "Mqtt": { "HeartbeatSeconds": 10 } }""", "it was renamed Mqtt:HeartbeatInterval ")]
    [InlineData("""{ "Gpio": { "Reject": { "PulseMs": 50 } } }""", "Gpio:Reject:PulseMs is no longer read: it was renamed Gpio:Reject:Pulse and takes a time, e.g. \"Pulse\": \"00:00:00.0500000\"")]
    [InlineData("""{ "Gpio": { "Review": { "PulseMs": 80 } } }""", "it was renamed Gpio:Review:Pulse ")]
    public Task A_site_file_with_a_renamed_key_is_refused_naming_the_new_key(string json, string message)
        => RunRefusesAsync(json, message);

    /// <summary>The site file's problem is named, and <c>semedge run</c> with it stops at start with exit 2.</summary>
    private async Task RunRefusesAsync(string json, string message)
    {
        var site = Site(json);

        Assert.Contains(Problems(site), p => p.Contains(message, StringComparison.Ordinal));
        // A daemon that started anyway would run until cancelled and return 0.
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Assert.Equal(SemEdgeCli.ExitUsage, await SemEdgeCli.RunAsync(["run", "--config", site], cts.Token));
    }

    [Fact]
    public void The_range_attribute_on_Decision_runs_at_start_with_one_line_naming_the_key()
    {
        var problems = Problems(Site("""{ "Decision": { "DefaultMinConfidence": -0.1 } }"""));

        // The [Range] attribute's own check (the hand-written one it replaced said "is -0.1; it must be ..."), once.
        Assert.Equal(["Decision:DefaultMinConfidence must be between 0 and 1."], problems.Where(p => p.Contains("DefaultMinConfidence", StringComparison.Ordinal)));
    }

    [Fact]
    public void Times_and_choices_bind_from_the_shipped_spelling()
    {
        using var host = DaemonHost.Build(new DaemonHostSettings
        {
            SiteConfig = Site("""{ "Mqtt": { "Mode": "External", "ReconnectMin": "00:00:00.25" }, "Gpio": { "Driver": "none", "Reject": { "Pulse": "00:00:00.08" } } }"""),
            ReadEnvironment = false,
        });

        Assert.Empty(DaemonHost.CheckSettings(host.Services));
        var mqtt = host.Services.GetRequiredService<IOptions<SemEdge.Publishing.MqttOptions>>().Value;
        Assert.Equal(SemEdge.Publishing.MqttMode.External, mqtt.Mode);
        Assert.Equal(TimeSpan.FromMilliseconds(250), mqtt.ReconnectMin);
        var gpio = host.Services.GetRequiredService<IOptions<SemEdge.Actuation.GpioOptions>>().Value;
        Assert.Equal(SemEdge.Actuation.GpioDriverKind.None, gpio.Driver);
        Assert.Equal(TimeSpan.FromMilliseconds(80), gpio.Reject!.Pulse);
    }
}
