using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SemEdge.Hosting;
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
        var path = _root.Combine("site.json");
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
        var code = await SemEdge.Cli.SemEdgeCli.RunAsync(
            ["run", "--config", Site("{}"), "--Pipeline:QueueCapacity=0"], CancellationToken.None);
        Assert.Equal(SemEdge.Cli.SemEdgeCli.ExitUsage, code);
    }
}
