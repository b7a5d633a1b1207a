using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MQTTnet;
using SemEdge.Inference;
using SemEdge.Publishing;
using SemEdge.Telemetry;

namespace SemEdge.Tests.Publishing;

public sealed class EmbeddedBrokerTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <param name="inProcess">The daemon's way (its publisher hands messages to its own broker), or a publisher that
    /// connects over loopback like any client (a second daemon, a tool).</param>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Subscriber_on_the_embedded_broker_gets_verdicts_status_and_model(bool inProcess)
    {
        var options = EmbeddedOn(FreePort.Next(), "cell-3");
        options.TopicPrefix = "fab/semedge";
        options.HeartbeatInterval = TimeSpan.FromSeconds(0.2);
        using var broker = new EmbeddedBroker(Options.Create(options), NullLogger<EmbeddedBroker>.Instance);
        await broker.StartAsync(default);
        using var outbox = new VerdictOutbox(Options.Create(new OutboxOptions { Path = _dir.Path }), NullLogger<VerdictOutbox>.Instance);
        var counters = new PipelineCounters();
        counters.CountClaimed();
        using var publisher = new MqttPublisher(
            Options.Create(options), outbox, counters, TimeProvider.System, NullLogger<MqttPublisher>.Instance,
            embeddedBroker: inProcess ? broker : null);
        await using var probe = await MqttProbe.ConnectAsync(options.Embedded.Port, "fab/semedge/cell-3/#");

        await publisher.StartAsync(default);
        await Eventually.TrueAsync(() => publisher.IsConnected, "publisher connected to the embedded broker");
        // The broker registers a client before its CONNACK, so a connected loopback publisher is listed by now.
        var daemonConnected = async () => (await broker.ConnectedClientIdsAsync(default)).Contains(options.EffectiveClientId);
        Assert.Equal(!inProcess, await daemonConnected());
        publisher.AnnounceModel(new ModelAnnouncement("mnv3s-int8", "3", "0123456789ab", "cpu", ["clean", "bridge"], null));
        await outbox.AppendAsync(Verdicts.Make("a.tif"), default);
        await outbox.AppendAsync(Verdicts.Make("b.tif"), default);

        await Eventually.TrueAsync(() => probe.Verdicts().Count == 2, "two verdicts at the subscriber");
        Assert.Equal([1L, 2], probe.Verdicts().Select(v => v.GetProperty("seq").GetInt64()));
        Assert.All(probe.Verdicts(), v => Assert.False(v.GetProperty("replay").GetBoolean()));
        await Eventually.TrueAsync(() => probe.Payloads("status").Contains("online"), "status online");
        await Eventually.TrueAsync(() => probe.Payloads("model").Count > 0, "model announcement");
        Assert.Contains("\"id\":\"mnv3s-int8\"", probe.Payloads("model")[^1], StringComparison.Ordinal);
        await Eventually.TrueAsync(() => probe.Payloads("heartbeat").Count >= 2, "periodic heartbeats");
        Assert.Contains("\"claimed\":1", probe.Payloads("heartbeat")[^1], StringComparison.Ordinal);
        await Eventually.TrueAsync(() => counters.Published == 2 && outbox.PendingCount == 0, "both verdicts acknowledged");
        Assert.Equal(!inProcess, await daemonConnected());

        await publisher.StopAsync(default);
        await Eventually.TrueAsync(() => probe.Payloads("status").LastOrDefault() == "offline", "offline on graceful stop");
        await broker.StopAsync(default);
    }

    [Fact]
    public async Task A_subscriber_that_subscribes_while_the_model_is_announced_still_gets_the_announcement()
    {
        // MQTTnet's broker reads the retained messages when a SUBSCRIBE arrives but adds the subscriber to the
        // delivery list only after it has processed every filter. A retained message published in between reaches
        // neither the snapshot nor the subscriber. A PLC that subscribes as the daemon (re)starts and announces its
        // model would never hear it (this made the hot-swap end-to-end test flaky). Each round: a fresh client,
        // then its SUBSCRIBE and a new announcement at once; the client must end up with the new announcement.
        var options = EmbeddedOn(FreePort.Next(), "cell-4");
        using var broker = new EmbeddedBroker(Options.Create(options), NullLogger<EmbeddedBroker>.Instance);
        await broker.StartAsync(default);
        using var outbox = new VerdictOutbox(Options.Create(new OutboxOptions { Path = _dir.Path }), NullLogger<VerdictOutbox>.Instance);
        using var publisher = new MqttPublisher(
            Options.Create(options), outbox, new PipelineCounters(), TimeProvider.System, NullLogger<MqttPublisher>.Instance, embeddedBroker: broker);
        await publisher.StartAsync(default);
        await Eventually.TrueAsync(() => publisher.IsConnected, "publisher connected to the embedded broker");
        var topic = options.Topic("model");
        var factory = new MqttClientFactory();

        for (var round = 1; round <= 300; round++)
        {
            using var client = factory.CreateMqttClient();
            var latest = string.Empty;
            client.ApplicationMessageReceivedAsync += e =>
            {
                Volatile.Write(ref latest, e.ApplicationMessage.ConvertPayloadToString());
                return Task.CompletedTask;
            };
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", options.Embedded.Port)
                .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V311).Build());
            var version = round.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var subscribe = client.SubscribeAsync(topic, MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);
            publisher.AnnounceModel(new ModelAnnouncement("mnv3s-int8", version, "0123456789ab", "cpu", ["clean", "bridge"], null));
            await subscribe;
            await Eventually.TrueAsync(
                () => Volatile.Read(ref latest).Contains($"\"version\":\"{version}\"", StringComparison.Ordinal),
                $"round {round}: the subscriber holds announcement {version}", seconds: 3);
            await client.DisconnectAsync();
        }

        await publisher.StopAsync(default);
        await broker.StopAsync(default);
    }

    [Fact]
    public async Task A_clean_session_client_without_an_id_gets_one_assigned()
    {
        // mosquitto_sub -V mqttv5 sends no client id: the broker must assign one (MQTT 5, 3.1.3.1) rather than refuse.
        var options = new MqttOptions { Embedded = new MqttEmbeddedBrokerOptions { BindAddress = "127.0.0.1", Port = FreePort.Next() } };
        using var broker = new EmbeddedBroker(Options.Create(options), NullLogger<EmbeddedBroker>.Instance);
        await broker.StartAsync(default);

        var probe = await MqttProbe.ConnectAsync(options.Embedded.Port, "semedge/#",
            configure: b => b.WithClientId(string.Empty).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500));
        Assert.True(probe.IsConnected);

        // The probe leaves before the broker stops: disconnecting from a stopped broker is what made this flaky.
        await probe.DisposeAsync();
        await broker.StopAsync(default);
    }

    /// <summary>The embedded broker on loopback and a publisher that reconnects quickly (these tests start both).</summary>
    private static MqttOptions EmbeddedOn(int port, string node) => new()
    {
        Mode = MqttMode.Embedded,
        NodeId = node,
        ReconnectMin = TimeSpan.FromSeconds(0.05),
        ReconnectMax = TimeSpan.FromSeconds(0.2),
        Embedded = new MqttEmbeddedBrokerOptions { BindAddress = "127.0.0.1", Port = port },
    };
}
