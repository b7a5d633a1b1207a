using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using SemEdge.Publishing;
using SemEdge.Telemetry;

namespace SemEdge.Tests.Publishing;

/// <summary>
/// mosquitto on a TLS listener that also demands a client certificate, with a throwaway CA, server and client
/// certificates made by openssl for this test.
/// </summary>
public sealed class MqttTlsTests : IAsyncLifetime
{
    private readonly TempFolder _dir = new();
    private Mosquitto _broker = null!;

    public async Task InitializeAsync()
    {
        var pki = new TestPki(_dir.Path);
        await pki.CreateCaAsync("ca", "/CN=SemEdge Test CA");
        await pki.CreateCaAsync("other-ca", "/CN=Some Other CA");
        await pki.IssueAsync("server", "/CN=localhost", "DNS:localhost,IP:127.0.0.1");
        await pki.IssueAsync("client", "/CN=semedge-cell-7", null);
        _broker = await Mosquitto.StartAsync(_dir.Path, $"""
            cafile {pki.Crt("ca")}
            certfile {pki.Crt("server")}
            keyfile {pki.Key("server")}
            require_certificate true
            """);
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task Tls_with_the_right_ca_and_a_client_certificate_delivers_verdicts()
    {
        using var outbox = OpenOutbox("good");
        using var publisher = Publisher(Tls("ca.crt"), outbox, NullLogger<MqttPublisher>.Instance);
        await publisher.StartAsync(default);
        try
        {
            await Eventually.TrueAsync(() => publisher.IsConnected, "TLS connection with the test CA");
            await outbox.AppendAsync(Verdicts.Make("tls.tif"), default);
            await Eventually.TrueAsync(() => outbox.PendingCount == 0, "verdict acknowledged over TLS");
        }
        finally
        {
            await publisher.StopAsync(default);
        }
    }

    [Fact]
    public async Task Tls_with_a_wrong_ca_never_connects_and_says_why()
    {
        using var outbox = OpenOutbox("bad");
        var logger = new FakeLogger<MqttPublisher>();
        using var publisher = Publisher(Tls("other-ca.crt"), outbox, logger);
        await publisher.StartAsync(default);
        try
        {
            await Eventually.TrueAsync(
                () => logger.Contains(LogLevel.Warning, $"is not signed by the CA in {_dir.Combine("other-ca.crt")}: unknown CA"),
                "a log line naming the CA file");
            await outbox.AppendAsync(Verdicts.Make("kept.tif"), default);
            await Task.Delay(500);
            Assert.False(publisher.IsConnected);
            Assert.Equal(1, outbox.PendingCount);
        }
        finally
        {
            await publisher.StopAsync(default);
        }
    }

    private MqttOptions Tls(string caFile) => new()
    {
        Mode = MqttMode.External,
        Host = "127.0.0.1",
        Port = _broker.Port,
        NodeId = "cell-7",
        ReconnectMin = TimeSpan.FromSeconds(0.05),
        ReconnectMax = TimeSpan.FromSeconds(0.2),
        OperationTimeout = TimeSpan.FromSeconds(5),
        Tls = new MqttTlsOptions
        {
            Enabled = true,
            CaFile = _dir.Combine(caFile),
            ClientCert = _dir.Combine("client.crt"),
            ClientKey = _dir.Combine("client.key"),
        },
    };

    private VerdictOutbox OpenOutbox(string name) =>
        new(Options.Create(new OutboxOptions { Path = _dir.Combine(name) }), NullLogger<VerdictOutbox>.Instance);

    private static MqttPublisher Publisher(MqttOptions options, VerdictOutbox outbox, ILogger<MqttPublisher> logger)
    {
        Assert.True(new MqttOptionsValidator().Validate(null, options).Succeeded);
        return new MqttPublisher(Options.Create(options), outbox, new PipelineCounters(), TimeProvider.System, logger);
    }
}
