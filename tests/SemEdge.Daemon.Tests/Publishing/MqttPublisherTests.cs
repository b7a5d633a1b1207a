using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using SemEdge.Inference;
using SemEdge.Publishing;
using SemEdge.Telemetry;

namespace SemEdge.Tests.Publishing;

/// <summary>The publisher against a real mosquitto, with MQTTnet subscribers standing in for the PLC.</summary>
public sealed class MqttPublisherTests : IAsyncLifetime
{
    private const string Prefix = "fab";
    private const string Node = "cell-7";
    private const string Filter = "fab/cell-7/#";

    private readonly TempFolder _dir = new();
    private readonly List<IAsyncDisposable> _cleanup = [];
    private Mosquitto _broker = null!;

    public async Task InitializeAsync()
    {
        _broker = await Mosquitto.StartAsync(_dir.Path);
    }

    public async Task DisposeAsync()
    {
        for (var i = _cleanup.Count - 1; i >= 0; i--)
        {
            await _cleanup[i].DisposeAsync();
        }

        await _broker.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task Broker_outage_delivers_every_verdict_in_order()
    {
        // A persistent subscriber, like a PLC that keeps its session: the broker queues for it while it is away.
        var plc = await Track(MqttProbe.ConnectAsync(_broker.Port, "fab/cell-7/verdict", persistent: true, clientId: "plc-1"));
        using var outbox = OpenOutbox();
        var publisher = await StartPublisherAsync(Options(_broker.Port), outbox);
        await Eventually.TrueAsync(() => publisher.IsConnected, "publisher connected");

        for (var i = 1; i <= 5; i++)
        {
            await outbox.AppendAsync(Verdicts.Make($"live-{i}.tif"), default);
        }

        await Eventually.TrueAsync(() => plc.Verdicts().Count >= 5, "five live verdicts");

        await _broker.StopAsync();
        await Eventually.TrueAsync(() => !publisher.IsConnected, "publisher notices the outage");
        for (var i = 6; i <= 12; i++)
        {
            await outbox.AppendAsync(Verdicts.Make($"late-{i}.tif"), default);
        }

        Assert.Equal(7, outbox.PendingCount);
        await _broker.StartAsync();
        await plc.ReconnectAsync();

        await Eventually.TrueAsync(() => plc.Verdicts().Select(v => v.GetProperty("seq").GetInt64()).Distinct().Count() == 12, "all twelve verdicts");
        var received = plc.Verdicts();
        var seqs = received.Select(v => v.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), seqs.Distinct());
        Assert.True(seqs.Zip(seqs.Skip(1)).All(p => p.First <= p.Second), $"out of order: {string.Join(',', seqs)}");
        Assert.All(received.Where(v => v.GetProperty("seq").GetInt64() <= 5), v => Assert.False(v.GetProperty("replay").GetBoolean()));
        Assert.All(received.Where(v => v.GetProperty("seq").GetInt64() > 5), v => Assert.True(v.GetProperty("replay").GetBoolean()));
        await Eventually.TrueAsync(() => outbox.PendingCount == 0, "outbox drained");

        // After the replay, a fresh verdict is live again.
        await outbox.AppendAsync(Verdicts.Make("after.tif"), default);
        await Eventually.TrueAsync(() => plc.Verdicts().Any(v => v.GetProperty("seq").GetInt64() == 13), "verdict 13");
        Assert.False(plc.Verdicts().Last(v => v.GetProperty("seq").GetInt64() == 13).GetProperty("replay").GetBoolean());
    }

    [Fact]
    public async Task Restarted_publisher_replays_unsent_entries_from_the_same_outbox_file()
    {
        var plc = await Track(MqttProbe.ConnectAsync(_broker.Port, "fab/cell-7/verdict"));
        var options = Options(_broker.Port);
        var counters = new PipelineCounters();
        using (var outbox = OpenOutbox())
        {
            using var first = new MqttPublisher(Microsoft.Extensions.Options.Options.Create(options), outbox, counters, TimeProvider.System, NullLogger<MqttPublisher>.Instance);
            await first.StartAsync(default);
            await Eventually.TrueAsync(() => first.IsConnected, "first publisher connected");
            await outbox.AppendAsync(Verdicts.Make("1.tif"), default);
            await outbox.AppendAsync(Verdicts.Make("2.tif"), default);
            await Eventually.TrueAsync(() => outbox.PendingCount == 0, "first two delivered");
            await first.StopAsync(default);

            // The process dies with verdicts made durable but not yet sent.
            await outbox.AppendAsync(Verdicts.Make("3.tif"), default);
            await outbox.AppendAsync(Verdicts.Make("4.tif"), default);
            await outbox.AppendAsync(Verdicts.Make("5.tif"), default);
        }

        using var reopened = OpenOutbox();
        Assert.Equal(3, reopened.PendingCount);
        await StartPublisherAsync(options, reopened);

        await Eventually.TrueAsync(() => plc.Verdicts().Count >= 5, "five verdicts");
        var received = plc.Verdicts();
        Assert.Equal([1L, 2, 3, 4, 5], received.Select(v => v.GetProperty("seq").GetInt64()));
        Assert.Equal(["1.tif", "2.tif", "3.tif", "4.tif", "5.tif"], received.Select(v => v.GetProperty("image").GetString()));
        Assert.Equal([false, false, true, true, true], received.Select(v => v.GetProperty("replay").GetBoolean()));
        await Eventually.TrueAsync(() => reopened.PendingCount == 0, "outbox drained after restart");
    }

    [Fact]
    public async Task Unclean_disconnect_publishes_the_retained_offline_will_and_reconnect_says_online()
    {
        await using var relay = new TcpRelay(_broker.Port);
        var watcher = await Track(MqttProbe.ConnectAsync(_broker.Port, "fab/cell-7/status"));
        using var outbox = OpenOutbox();
        var publisher = await StartPublisherAsync(Options(relay.Port), outbox);
        await Eventually.TrueAsync(() => watcher.Payloads("status").Contains("online"), "online");

        relay.Sever();
        await Eventually.TrueAsync(() => watcher.Payloads("status").Contains("offline"), "last will 'offline' after an unclean disconnect");
        await Eventually.TrueAsync(() => watcher.Payloads("status").Count(p => p == "online") >= 2, "online again after reconnect");
        var statuses = watcher.Payloads("status");
        Assert.Equal("online", statuses[0]);
        Assert.Equal(["offline", "online"], statuses.SkipWhile(s => s == "online").Take(2));
        Assert.True(publisher.IsConnected);

        // Both are retained: a PLC that connects now learns the current state at once.
        var late = await Track(MqttProbe.ConnectAsync(_broker.Port, "fab/cell-7/status"));
        await Eventually.TrueAsync(() => late.Messages.Count > 0, "retained status");
        Assert.Equal(new MqttProbe.Received("fab/cell-7/status", "online", true), late.Messages[0]);
    }

    [Fact]
    public async Task Model_announcement_is_retained_and_republished_on_reconnect()
    {
        await using var relay = new TcpRelay(_broker.Port);
        using var outbox = OpenOutbox();
        var publisher = await StartPublisherAsync(Options(relay.Port), outbox);
        // The model's own order is bridge, clean; the line is told the table (and what this model cannot say).
        publisher.AnnounceModel(new ModelAnnouncement("mnv3s-int8", "4", "aabbccddeeff", "cpu", ["bridge", "clean"], "screen-1")
        {
            ClassTable = [new(0, "clean"), new(1, "bridge"), new(2, "cmp")],
            Missing = ["cmp"],
            SignedBy = "semedge-release fafd46414cdae8f4",
        });
        var watcher = await Track(MqttProbe.ConnectAsync(_broker.Port, "fab/cell-7/model"));
        await Eventually.TrueAsync(() => watcher.Payloads("model").Count == 1, "retained model");
        Assert.Equal(
            """{"id":"mnv3s-int8","version":"4","sha":"aabbccddeeff","provider":"cpu","classTable":[{"class":0,"label":"clean"},{"class":1,"label":"bridge"},{"class":2,"label":"cmp"}],"classes":["clean","bridge"],"missing":["cmp"],"signedBy":"semedge-release fafd46414cdae8f4","screen":"screen-1"}""",
            watcher.Payloads("model")[0]);

        relay.Sever();
        await Eventually.TrueAsync(() => watcher.Payloads("model").Count >= 2, "model republished after reconnect");
    }

    [Fact]
    public async Task Heartbeat_carries_pipeline_counters_uptime_and_outbox_depth()
    {
        var watcher = await Track(MqttProbe.ConnectAsync(_broker.Port, "fab/cell-7/heartbeat"));
        using var outbox = OpenOutbox();
        var counters = new PipelineCounters();
        counters.CountClaimed();
        counters.CountClaimed();
        counters.CountRejected();
        counters.CountQuarantined();
        await StartPublisherAsync(Options(_broker.Port), outbox, counters);

        await Eventually.TrueAsync(() => watcher.Payloads("heartbeat").Count >= 2, "two heartbeats");
        using var beat = System.Text.Json.JsonDocument.Parse(watcher.Payloads("heartbeat")[^1]);
        var root = beat.RootElement;
        Assert.Equal(2, root.GetProperty("claimed").GetInt64());
        Assert.Equal(1, root.GetProperty("rejected").GetInt64());
        Assert.Equal(1, root.GetProperty("inspected").GetInt64());
        Assert.Equal(1, root.GetProperty("quarantined").GetInt64());
        Assert.Equal(0, root.GetProperty("outboxDepth").GetInt32());
        Assert.True(root.GetProperty("uptimeS").GetDouble() >= 0);
    }

    [Fact]
    public async Task Publisher_keeps_retrying_with_back_off_until_the_broker_appears()
    {
        await _broker.StopAsync();
        using var outbox = OpenOutbox();
        var logger = new FakeLogger<MqttPublisher>();
        var publisher = await StartPublisherAsync(Options(_broker.Port), outbox, logger: logger);
        await outbox.AppendAsync(Verdicts.Make("early.tif"), default);
        await Eventually.TrueAsync(() => logger.Collector.GetSnapshot().Count(l => l.Message.Contains("retrying in", StringComparison.Ordinal)) >= 3, "three failed attempts");
        var delays = logger.Collector.GetSnapshot()
            .Where(l => l.Message.Contains("retrying in", StringComparison.Ordinal))
            .Select(l => int.Parse(l.Message.Split("retrying in ")[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture))
            .Take(3)
            .ToList();
        Assert.Equal([50, 100, 200], delays);

        await _broker.StartAsync();
        var plc = await Track(MqttProbe.ConnectAsync(_broker.Port, "fab/cell-7/verdict"));
        await Eventually.TrueAsync(() => publisher.IsConnected, "connected once the broker is up");
        await Eventually.TrueAsync(() => outbox.PendingCount == 0, "verdict made while the broker was down is delivered");
    }

    private static MqttOptions Options(int port) => new()
    {
        Mode = MqttMode.External,
        Host = "127.0.0.1",
        Port = port,
        NodeId = Node,
        TopicPrefix = Prefix,
        KeepAlive = TimeSpan.FromSeconds(5),
        OperationTimeout = TimeSpan.FromSeconds(5),
        ReconnectMin = TimeSpan.FromSeconds(0.05),
        ReconnectMax = TimeSpan.FromSeconds(0.4),
        HeartbeatInterval = TimeSpan.FromSeconds(0.2),
    };

    private VerdictOutbox OpenOutbox() =>
        new(Microsoft.Extensions.Options.Options.Create(new OutboxOptions { Path = Path.Combine(_dir.Path, "outbox") }), NullLogger<VerdictOutbox>.Instance);

    private async Task<MqttPublisher> StartPublisherAsync(
        MqttOptions options, VerdictOutbox outbox, PipelineCounters? counters = null, ILogger<MqttPublisher>? logger = null)
    {
        var publisher = new MqttPublisher(
            Microsoft.Extensions.Options.Options.Create(options),
            outbox,
            counters ?? new PipelineCounters(),
            TimeProvider.System,
            logger ?? NullLogger<MqttPublisher>.Instance);
        _cleanup.Add(new Stopper(publisher));
        await publisher.StartAsync(default);
        return publisher;
    }

    private async Task<MqttProbe> Track(Task<MqttProbe> connecting)
    {
        var probe = await connecting;
        _cleanup.Add(probe);
        return probe;
    }

    private sealed class Stopper(MqttPublisher publisher) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await publisher.StopAsync(default);
            publisher.Dispose();
        }
    }
}
