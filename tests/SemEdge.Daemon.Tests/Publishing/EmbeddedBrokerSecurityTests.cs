using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using SemEdge.Inference;
using SemEdge.Publishing;
using SemEdge.Telemetry;
using SemEdge.Tests.Platform;
using Xunit.Abstractions;

namespace SemEdge.Tests.Publishing;

/// <summary>
/// The embedded broker as an attacker on the plant network or a second local user would try it, with mosquitto's
/// own clients (mosquitto_pub, mosquitto_sub, mosquitto_passwd) against the daemon's real broker and publisher.
/// </summary>
public sealed class EmbeddedBrokerSecurityTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Forged = """{"seq":999,"image":"forged.tif","label":"clean","action":"pass"}""";
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);
    private readonly TempFolder _dir = new();
    private readonly FakeLogger<EmbeddedBroker> _brokerLog = new();
    private readonly FakeLogger<MqttPublisher> _publisherLog = new();
    private readonly List<IAsyncDisposable> _cleanup = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var item in Enumerable.Reverse(_cleanup))
        {
            await item.DisposeAsync();
        }

        foreach (var (level, message) in _brokerLog.Collector.GetSnapshot().Select(r => (r.Level, r.Message)))
        {
            output.WriteLine($"broker {level}: {message}");
        }

        foreach (var (level, message) in _publisherLog.Collector.GetSnapshot().Select(r => (r.Level, r.Message)))
        {
            output.WriteLine($"publisher {level}: {message}");
        }

        _dir.Dispose();
    }

    [Fact]
    public async Task Anonymous_loopback_clients_can_read_but_cannot_forge_a_verdict_or_overwrite_the_retained_model()
    {
        var (options, publisher, outbox) = await StartDaemonAsync(new MqttEmbeddedBrokerOptions());
        publisher.AnnounceModel(new ModelAnnouncement("mnv3s-int8", "3", "0123456789ab", "cpu", ["clean", "bridge"], null));
        await using var plc = await MqttProbe.ConnectAsync(options.Embedded.Port, "semedge/semedge-1/#");
        await Eventually.TrueAsync(() => plc.Payloads("model").Count > 0, "the daemon's model announcement");

        var verdict = await MosquittoPubAsync(options.Embedded.Port, "semedge/semedge-1/verdict", Forged);
        var model = await MosquittoPubAsync(options.Embedded.Port, "semedge/semedge-1/model", """{"id":"forged"}""", "-r");
        var elsewhere = await MosquittoPubAsync(options.Embedded.Port, "semedge/semedge-1/ack", "1");
        await ForgeThroughLastWillAsync(options.Embedded.Port, "semedge/semedge-1/model");
        // A real verdict after the forgeries: once it arrives, anything forged would have arrived before it.
        await outbox.AppendAsync(Verdicts.Make("real.tif"), default);
        await Eventually.TrueAsync(() => plc.Verdicts().Count == 1, "the daemon's own verdict");

        Assert.Contains("Not authorized", verdict.Output, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Not authorized", model.Output, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Not authorized", elsewhere.Output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(plc.Messages, m => m.Payload.Contains("forged", StringComparison.Ordinal));
        Assert.Equal("real.tif", plc.Verdicts()[0].GetProperty("image").GetString());
        await using var late = await MqttProbe.ConnectAsync(options.Embedded.Port, "semedge/semedge-1/model");
        await Eventually.TrueAsync(() => late.Payloads("model").Count > 0, "the retained model for a new subscriber");
        Assert.Contains("\"id\":\"mnv3s-int8\"", late.Payloads("model")[0], StringComparison.Ordinal);
        Assert.True(_brokerLog.Contains(Microsoft.Extensions.Logging.LogLevel.Warning, "refused a publish to semedge/semedge-1/verdict"));
    }

    [Fact]
    public async Task A_client_using_the_daemons_client_id_is_refused_and_the_daemon_stays_connected()
    {
        var (options, publisher, outbox) = await StartDaemonAsync(new MqttEmbeddedBrokerOptions());
        await using var plc = await MqttProbe.ConnectAsync(options.Embedded.Port, "semedge/semedge-1/#");
        await Eventually.TrueAsync(() => plc.Payloads("status").Contains("online"), "the daemon online");

        var takeover = await ToolRun.RunAsync(
            "mosquitto_sub", ["-h", "127.0.0.1", "-p", Port(options), "-V", "mqttv5", "-i", options.EffectiveClientId, "-t", "#", "-C", "1", "-W", "10"], ToolTimeout);
        output.WriteLine($"mosquitto_sub -i {options.EffectiveClientId}: exit {takeover.ExitCode}: {takeover.Output}");
        await outbox.AppendAsync(Verdicts.Make("after-takeover.tif"), default);
        await Eventually.TrueAsync(() => plc.Verdicts().Count == 1, "a verdict after the takeover attempt");

        Assert.NotEqual(0, takeover.ExitCode);
        Assert.Contains("identifier", takeover.Output, StringComparison.OrdinalIgnoreCase);
        Assert.True(publisher.IsConnected);
        // The daemon never lost its session: it said online once, and never offline (its last will).
        Assert.Equal(["online"], plc.Payloads("status"));
        Assert.True(_brokerLog.Contains(Microsoft.Extensions.Logging.LogLevel.Warning, "is reserved for the SemEdge daemon"));
    }

    [Fact]
    public async Task A_second_daemon_configured_with_the_same_client_id_logs_that_its_id_is_refused()
    {
        var (options, publisher, _) = await StartDaemonAsync(new MqttEmbeddedBrokerOptions());
        var log = new FakeLogger<MqttPublisher>();
        var twin = new MqttOptions
        {
            Mode = MqttMode.External,
            Host = "127.0.0.1",
            Port = options.Embedded.Port,
            ClientId = options.EffectiveClientId,
            ReconnectMin = TimeSpan.FromSeconds(0.05),
            ReconnectMax = TimeSpan.FromSeconds(0.2),
        };
        using var outbox = new VerdictOutbox(Options.Create(new OutboxOptions { Path = _dir.Combine("twin-outbox") }), NullLogger<VerdictOutbox>.Instance);
        using var second = new MqttPublisher(Options.Create(twin), outbox, new PipelineCounters(), TimeProvider.System, log);
        await second.StartAsync(default);
        try
        {
            await Eventually.TrueAsync(() => log.Collector.GetSnapshot().Any(l => l.Message.Contains("unavailable", StringComparison.Ordinal)), "the twin's failed connect");
        }
        finally
        {
            await second.StopAsync(default);
        }

        Assert.True(log.Contains(Microsoft.Extensions.Logging.LogLevel.Warning, $"the broker refused the client id '{options.EffectiveClientId}' (the broker says: client id '{options.EffectiveClientId}' is reserved for the SemEdge daemon itself)"));
        Assert.True(publisher.IsConnected);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    public async Task A_non_loopback_bind_without_accounts_is_refused_at_start_and_says_why(string bindAddress)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Mqtt:Embedded:BindAddress"] = bindAddress,
            ["Mqtt:Embedded:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["Outbox:Path"] = _dir.Combine("outbox"),
        };
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddLogging();
        builder.Services.AddPublishing(builder.Configuration);
        using var host = builder.Build();

        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        // A broker built by hand, past the validator, refuses too.
        var options = new MqttOptions { Embedded = new MqttEmbeddedBrokerOptions { BindAddress = bindAddress, Port = FreePort.Next() } };
        using var broker = new EmbeddedBroker(Options.Create(options), NullLogger<EmbeddedBroker>.Instance);
        var direct = await Assert.ThrowsAsync<InvalidOperationException>(() => broker.StartAsync(default));

        Assert.Contains($"Mqtt:Embedded:BindAddress is {bindAddress}, reachable from the network, but Mqtt:Embedded:PasswordFile is empty", refused.Message, StringComparison.Ordinal);
        Assert.Contains("anyone on the line network", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Mqtt:Embedded:PasswordFile is empty", direct.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Accounts_from_mosquitto_passwd_log_in_and_the_acl_decides_what_each_reads_and_writes()
    {
        var passwords = await PasswordFileAsync(("plc-7", "line 7 secret"), ("viewer", "look only"));
        var acl = _dir.Combine("broker.acl");
        await File.WriteAllTextAsync(acl, """
            # The PLC of cell 7 reads the cell's topics and acknowledges on its ack topic.
            user plc-7
            topic read semedge/cell-7/#
            topic write semedge/cell-7/ack
            # It may try to write the verdict topic: only the daemon writes it, whatever this file says.
            topic write semedge/cell-7/verdict

            user viewer
            topic read semedge/cell-7/heartbeat
            """);
        var (options, _, outbox) = await StartDaemonAsync(new MqttEmbeddedBrokerOptions { PasswordFile = passwords, AclFile = acl }, nodeId: "cell-7");
        var port = Port(options);
        await using var plc = await MqttProbe.ConnectAsync(options.Embedded.Port, "semedge/cell-7/#", configure: b => b.WithCredentials("plc-7", "line 7 secret"));

        var wrongPassword = await ToolRun.RunAsync("mosquitto_sub", ["-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "-u", "plc-7", "-P", "wrong", "-t", "semedge/#", "-C", "1", "-W", "10"], ToolTimeout);
        var anonymous = await ToolRun.RunAsync("mosquitto_sub", ["-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "-t", "semedge/#", "-C", "1", "-W", "10"], ToolTimeout);
        var ack = await MosquittoPubAsync(options.Embedded.Port, "semedge/cell-7/ack", "ack 1", "-u", "plc-7", "-P", "line 7 secret");
        var forged = await MosquittoPubAsync(options.Embedded.Port, "semedge/cell-7/verdict", Forged, "-u", "plc-7", "-P", "line 7 secret");
        var viewerAck = await MosquittoPubAsync(options.Embedded.Port, "semedge/cell-7/ack", "viewer ack", "-u", "viewer", "-P", "look only");
        var viewerSubscribe = await SubscribeResultAsync(options.Embedded.Port, "viewer", "look only", "semedge/cell-7/#");
        var viewerHeartbeat = await SubscribeResultAsync(options.Embedded.Port, "viewer", "look only", "semedge/cell-7/heartbeat");
        var plcEverything = await SubscribeResultAsync(options.Embedded.Port, "plc-7", "line 7 secret", "#");
        await outbox.AppendAsync(Verdicts.Make("cell7.tif"), default);
        await Eventually.TrueAsync(() => plc.Verdicts().Count == 1, "the daemon's verdict at the PLC account");

        Assert.NotEqual(0, wrongPassword.ExitCode);
        Assert.Contains("bad user name or password", wrongPassword.Output, StringComparison.OrdinalIgnoreCase);
        Assert.NotEqual(0, anonymous.ExitCode);
        Assert.Contains("not authori", anonymous.Output, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, ack.ExitCode);
        Assert.Equal(["ack 1"], plc.Payloads("ack"));
        Assert.Contains("Not authorized", forged.Output, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Not authorized", viewerAck.Output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(plc.Messages, m => m.Payload.Contains("forged", StringComparison.Ordinal) || m.Payload == "viewer ack");
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, viewerSubscribe);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, viewerHeartbeat);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, plcEverything);
    }

    // Starts mosquitto clients over TLS: slow, so scripts/test --fast leaves it out.
    [Fact]
    [Trait("Category", "Slow")]
    public async Task Tls_listener_serves_a_mosquitto_client_that_trusts_the_ca_and_the_daemon_publishes_over_it()
    {
        var pki = new TestPki(_dir.Path);
        await pki.CreateCaAsync("ca", "/CN=Plant CA");
        await pki.IssueAsync("board", "/CN=semedge-board", "DNS:localhost,IP:127.0.0.1");
        var passwords = await PasswordFileAsync(("plc-7", "tls secret"));
        var (options, publisher, outbox) = await StartDaemonAsync(
            new MqttEmbeddedBrokerOptions
            {
                BindAddress = "0.0.0.0",
                PasswordFile = passwords,
                Tls = new MqttEmbeddedTlsOptions { CertFile = pki.Crt("board"), KeyFile = pki.Key("board") },
            },
            nodeId: "cell-7");
        var port = Port(options);
        Assert.Empty(MqttSecrets.Warnings(options, []));

        var subscriber = ToolRun.RunAsync(
            "mosquitto_sub",
            ["-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "--cafile", pki.Crt("ca"), "-u", "plc-7", "-P", "tls secret", "-t", "semedge/cell-7/verdict", "-C", "1", "-W", "120"],
            TimeSpan.FromSeconds(150));
        // mosquitto_sub says nothing when its subscription is in place: publish until it has received one verdict.
        var appended = 0;
        while (!subscriber.IsCompleted && appended < 240)
        {
            await outbox.AppendAsync(Verdicts.Make($"tls-{appended++}.tif"), default);
            await Task.WhenAny(subscriber, Task.Delay(500));
        }

        var received = await subscriber;
        var plaintext = await ToolRun.RunAsync("mosquitto_sub", ["-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "-u", "plc-7", "-P", "tls secret", "-t", "#", "-C", "1", "-W", "5"], ToolTimeout);
        var wrongCa = await ToolRun.RunAsync(
            "mosquitto_sub", ["-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "--cafile", "/etc/ssl/certs/ca-certificates.crt", "-u", "plc-7", "-P", "tls secret", "-t", "#", "-C", "1", "-W", "5"], ToolTimeout);
        output.WriteLine($"TLS subscriber: exit {received.ExitCode}: {received.Output}");
        output.WriteLine($"plaintext subscriber: exit {plaintext.ExitCode}: {plaintext.Output}");
        output.WriteLine($"subscriber trusting another CA: exit {wrongCa.ExitCode}: {wrongCa.Output}");

        Assert.True(received.ExitCode == 0, received.Output);
        Assert.Contains("\"image\":\"tls-", received.Stdout, StringComparison.Ordinal);
        Assert.True(publisher.IsConnected);
        Assert.NotEqual(0, plaintext.ExitCode);
        Assert.NotEqual(0, wrongCa.ExitCode);
        Assert.Contains("TLS error", wrongCa.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Password_file_written_by_mosquitto_passwd_verifies_the_right_password_only()
    {
        var path = await PasswordFileAsync(("plc-7", "zwölf Zeichen"), ("other", "x"));
        // mosquitto 1.6's format, as `mosquitto_passwd -H sha512` writes it.
        var legacy = await ToolRun.RunAsync("mosquitto_passwd", ["-H", "sha512", "-b", path, "old", "legacy pw"], ToolTimeout);
        Assert.Equal(0, legacy.ExitCode);

        var file = MosquittoPasswordFile.Load(path);

        Assert.Equal(["plc-7", "other", "old"], file.Users);
        Assert.StartsWith("old:$6$", File.ReadAllLines(path)[2], StringComparison.Ordinal);
        Assert.True(file.Verify("plc-7", "zwölf Zeichen"u8));
        Assert.False(file.Verify("plc-7", "zwölf zeichen"u8));
        Assert.False(file.Verify("other", "zwölf Zeichen"u8));
        Assert.True(file.Verify("old", "legacy pw"u8));
        Assert.False(file.Verify("nobody", "x"u8));
    }

    [Theory]
    [InlineData("plc:secret\n", "line 1: user 'plc': not a $7$ or $6$ hash")]
    [InlineData("plc:$7$101$!!!$abc\n", "line 1: user 'plc': salt or hash is not base64")]
    [InlineData("# nothing\n", "holds no account")]
    public void A_password_file_that_cannot_be_used_is_refused_with_its_line(string text, string message)
    {
        var path = _dir.Combine("bad.passwd");
        File.WriteAllText(path, text);
        var ex = Assert.Throws<InvalidDataException>(() => MosquittoPasswordFile.Load(path));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("topic read a/#\n", "line 1: a topic line before any user line")]
    [InlineData("user a\ntopic deny a/#\n", "line 2: deny is not supported")]
    [InlineData("user a\npattern read a/%u\n", "line 2: pattern lines are not supported")]
    [InlineData("user a\ntopic read a/#/b\n", "line 2: 'a/#/b' is not a valid topic filter")]
    public void An_acl_file_that_cannot_be_used_is_refused_with_its_line(string text, string message)
    {
        var path = _dir.Combine("bad.acl");
        File.WriteAllText(path, text);
        var ex = Assert.Throws<InvalidDataException>(() => MosquittoAclFile.Load(path));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a/#", "a", true)]
    [InlineData("a/#", "a/b/c", true)]
    [InlineData("a/+/c", "a/b/c", true)]
    [InlineData("a/+/c", "a/+/c", true)]
    [InlineData("a/+/c", "a/#", false)]
    [InlineData("a/b", "a/+", false)]
    [InlineData("a/b", "a/b/c", false)]
    [InlineData("#", "x/y", true)]
    public void One_filter_covers_another_only_when_it_matches_every_topic_of_it(string outer, string inner, bool covers) =>
        Assert.Equal(covers, MqttTopics.Covers(outer, inner));

    private static string Port(MqttOptions options) => options.Embedded.Port.ToString(CultureInfo.InvariantCulture);

    private static async Task<ToolRun> MosquittoPubAsync(int port, string topic, string message, params string[] extra)
    {
        string[] args = ["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-V", "mqttv5", "-q", "1", "-t", topic, "-m", message, .. extra];
        return await ToolRun.RunAsync("mosquitto_pub", args, ToolTimeout);
    }

    /// <summary>A client whose last will is a retained forgery, dropped without a DISCONNECT so the broker sends the will.</summary>
    private static async Task ForgeThroughLastWillAsync(int port, string topic)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId($"will-{Guid.NewGuid():N}")
            .WithWillTopic(topic)
            .WithWillPayload("""{"id":"forged"}""")
            .WithWillRetain(true)
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        await client.ConnectAsync(options);
        await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.DisconnectWithWillMessage).Build());
    }

    private static async Task<MqttClientSubscribeResultCode> SubscribeResultAsync(int port, string user, string password, string filter)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId($"sub-{Guid.NewGuid():N}")
            .WithCredentials(user, password)
            .Build());
        var result = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await client.DisconnectAsync();
        return Assert.Single(result.Items).ResultCode;
    }

    private async Task<string> PasswordFileAsync(params (string User, string Password)[] accounts)
    {
        var path = _dir.Combine($"broker-{Guid.NewGuid():N}.passwd");
        var create = true;
        foreach (var (user, password) in accounts)
        {
            string[] args = create ? ["-c", "-b", path, user, password] : ["-b", path, user, password];
            var run = await ToolRun.RunAsync("mosquitto_passwd", args, ToolTimeout);
            Assert.True(run.ExitCode == 0, run.Output);
            create = false;
        }

        return path;
    }

    private async Task<(MqttOptions Options, MqttPublisher Publisher, VerdictOutbox Outbox)> StartDaemonAsync(MqttEmbeddedBrokerOptions embedded, string nodeId = "semedge-1")
    {
        embedded.Port = FreePort.Next();
        var options = new MqttOptions
        {
            NodeId = nodeId,
            HeartbeatInterval = TimeSpan.FromSeconds(0.5),
            ReconnectMin = TimeSpan.FromSeconds(0.05),
            ReconnectMax = TimeSpan.FromSeconds(0.2),
            Embedded = embedded,
        };
        var validation = new MqttOptionsValidator().Validate(null, options);
        Assert.True(validation.Succeeded, validation.FailureMessage);
        var broker = new EmbeddedBroker(Options.Create(options), _brokerLog);
        await broker.StartAsync(default);
        _cleanup.Add(new Disposer(async () =>
        {
            await broker.StopAsync(default);
            broker.Dispose();
        }));
        var outbox = new VerdictOutbox(Options.Create(new OutboxOptions { Path = _dir.Combine($"outbox-{Guid.NewGuid():N}") }), NullLogger<VerdictOutbox>.Instance);
        // As the daemon wires it: the publisher hands its messages to its own broker in process.
        var publisher = new MqttPublisher(Options.Create(options), outbox, new PipelineCounters(), TimeProvider.System, _publisherLog, embeddedBroker: broker);
        await publisher.StartAsync(default);
        _cleanup.Add(new Disposer(async () =>
        {
            await publisher.StopAsync(default);
            publisher.Dispose();
            outbox.Dispose();
        }));
        await Eventually.TrueAsync(() => publisher.IsConnected, "the daemon's publisher connected to its embedded broker");
        return (options, publisher, outbox);
    }

    private sealed class Disposer(Func<Task> dispose) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await dispose();
    }
}
