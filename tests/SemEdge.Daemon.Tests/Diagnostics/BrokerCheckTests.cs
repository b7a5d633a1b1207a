using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using SemEdge.Diagnostics;
using SemEdge.Publishing;
using SemEdge.Telemetry;
using SemEdge.Tests.Publishing;
using Xunit.Abstractions;

namespace SemEdge.Tests.Diagnostics;

/// <summary>
/// <c>semedge doctor</c>'s broker check against a real mosquitto set up wrong in each way a site gets it wrong:
/// the check must FAIL and name the cause, and the daemon's own publisher must log the same cause.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BrokerCheckTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string User = "semedge";
    private const string Password = "cell 7 password";
    private readonly TempFolder _dir = new();
    private TestPki _pki = null!;

    public async Task InitializeAsync()
    {
        _pki = new TestPki(_dir.Path);
        await _pki.CreateCaAsync("ca", "/CN=SemEdge Test CA");
        await _pki.CreateCaAsync("other-ca", "/CN=Some Other CA");
        await _pki.IssueAsync("server", "/CN=broker", "DNS:localhost,IP:127.0.0.1");
        await _pki.IssueAsync("wrong-name", "/CN=other-broker", "DNS:other-broker.example");
        await _pki.IssueAsync("client", "/CN=semedge-cell-7", null);
        var now = DateTimeOffset.UtcNow;
        _pki.CreateCaWithDates("old-ca", "CN=Old Plant CA", now.AddDays(-60), now.AddDays(60));
        _pki.IssueWithDates("expired", "CN=broker", now.AddDays(-30), now.AddDays(-1), ca: "old-ca");
        var passwords = _dir.Combine("mosquitto.passwd");
        var made = await Platform.ToolRun.RunAsync("mosquitto_passwd", ["-c", "-b", passwords, User, Password], TimeSpan.FromSeconds(30));
        Assert.Equal(0, made.ExitCode);
        await File.WriteAllTextAsync(_dir.Combine("password"), Password + "\n");
        await File.WriteAllTextAsync(_dir.Combine("wrong-password"), "not it\n");
    }

    public Task DisposeAsync()
    {
        _dir.Dispose();
        return Task.CompletedTask;
    }

    public static TheoryData<string, string> BadSetups => new()
    {
        { "expired", "expired on" },
        { "wrong-name", "wrong name" },
        { "unknown-ca", "unknown CA" },
        { "plaintext-port", "is it a plaintext MQTT port?" },
        { "tls-port-without-tls", "a TLS port, set Mqtt:Tls:Enabled" },
        { "wrong-password", "a wrong password for user 'semedge'" },
        { "no-client-certificate", "demands a client certificate, and Mqtt:Tls:ClientCert is empty" },
        { "refused-client-id", "or a user or client id 'semedge-" },
    };

    [Theory]
    [MemberData(nameof(BadSetups))]
    public async Task Doctor_fails_on_a_bad_tls_or_login_setup_and_names_the_cause_as_the_daemon_log_does(string setup, string cause)
    {
        var (brokerConfig, options) = Setup(setup);
        await using var broker = await Mosquitto.StartAsync(_dir.Combine($"broker-{setup}"), brokerConfig);
        options.Port = broker.Port;

        var results = await DoctorAsync(options);
        var daemonLog = await DaemonLogAsync(options);

        var fail = Assert.Single(results, r => r.Status == CheckStatus.Fail);
        Assert.Contains(cause, fail.Message, StringComparison.Ordinal);
        Assert.Contains(daemonLog.Collector.GetSnapshot(), l => l.Level == LogLevel.Warning && l.Message.Contains(cause, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Doctor_passes_the_daemons_own_tls_login_with_the_password_from_a_systemd_credential()
    {
        var (brokerConfig, options) = Setup("good");
        await using var broker = await Mosquitto.StartAsync(_dir.Combine("good"), brokerConfig);
        options.Port = broker.Port;
        options.PasswordFile = null;
        options.PasswordCredential = "mqtt-password";
        var credentials = Directory.CreateDirectory(_dir.Combine("credentials")).FullName;
        await File.WriteAllTextAsync(Path.Combine(credentials, "mqtt-password"), Password);
        options.CredentialsDirectory = credentials;

        var results = await DoctorAsync(options);

        // The test certificates are valid for two days only: the doctor warns that they expire soon.
        Assert.DoesNotContain(results, r => r.Status == CheckStatus.Fail);
        Assert.Contains(results, r => r.Message.Contains("accepts an MQTT connection with the daemon's settings (TLS, user 'semedge')", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_ca_file_the_system_store_is_used_and_ssl_cert_file_or_ssl_cert_dir_replace_it()
    {
        var (brokerConfig, options) = Setup("good");
        await using var broker = await Mosquitto.StartAsync(_dir.Combine("system-store"), brokerConfig);
        options.Port = broker.Port;
        options.Tls.CaFile = null;
        var certDir = Directory.CreateDirectory(_dir.Combine("certs")).FullName;
        File.Copy(_pki.Crt("ca"), Path.Combine(certDir, "plant-ca.pem"));

        var systemStore = await BrokerCheck.TryConnectAsync(options, default);
        options.Tls.SystemCertFile = _pki.Crt("ca");
        var certFile = await BrokerCheck.TryConnectAsync(options, default);
        options.Tls.SystemCertFile = null;
        options.Tls.SystemCertDir = certDir;
        var certFolder = await BrokerCheck.TryConnectAsync(options, default);
        output.WriteLine($"system store: {systemStore}");

        Assert.NotNull(systemStore);
        Assert.Contains("is not signed by the system trust store: unknown CA", systemStore, StringComparison.Ordinal);
        Assert.Null(certFile);
        Assert.Null(certFolder);
    }

    private (string BrokerConfig, MqttOptions Options) Setup(string setup)
    {
        var tlsListener = $"""
            cafile {_pki.Crt("ca")}
            certfile {_pki.Crt(setup switch { "expired" => "expired", "wrong-name" => "wrong-name", _ => "server" })}
            keyfile {_pki.Key(setup switch { "expired" => "expired", "wrong-name" => "wrong-name", _ => "server" })}
            require_certificate true
            allow_anonymous false
            password_file {_dir.Combine("mosquitto.passwd")}
            """;
        var brokerConfig = setup switch
        {
            "plaintext-port" => "",
            "refused-client-id" => tlsListener + "\nclientid_prefixes plc-\n",
            _ => tlsListener,
        };
        var options = new MqttOptions
        {
            Mode = MqttMode.External,
            Host = "127.0.0.1",
            NodeId = "cell-7",
            Username = User,
            PasswordFile = _dir.Combine(setup == "wrong-password" ? "wrong-password" : "password"),
            ReconnectMin = TimeSpan.FromSeconds(0.05),
            ReconnectMax = TimeSpan.FromSeconds(0.2),
            OperationTimeout = TimeSpan.FromSeconds(5),
            Tls = new MqttTlsOptions
            {
                Enabled = true,
                CaFile = _pki.Crt(setup switch { "expired" => "old-ca", "unknown-ca" => "other-ca", _ => "ca" }),
                ClientCert = setup == "no-client-certificate" ? null : _pki.Crt("client"),
                ClientKey = setup == "no-client-certificate" ? null : _pki.Key("client"),
            },
        };
        if (setup == "tls-port-without-tls")
        {
            options.Tls = new MqttTlsOptions();
        }

        Assert.True(new MqttOptionsValidator().Validate(null, options).Succeeded);
        return (brokerConfig, options);
    }

    private async Task<IReadOnlyList<CheckResult>> DoctorAsync(MqttOptions options)
    {
        using var services = new ServiceCollection().AddSingleton(Options.Create(options)).BuildServiceProvider();
        var results = await BrokerCheck.RunAsync(new DoctorContext(services, null), TimeProvider.System, default);
        foreach (var result in results)
        {
            output.WriteLine($"doctor: {result}");
        }

        return results;
    }

    /// <summary>The daemon's publisher with the same settings, until it has logged one failed connect.</summary>
    private async Task<FakeLogger<MqttPublisher>> DaemonLogAsync(MqttOptions options)
    {
        var log = new FakeLogger<MqttPublisher>();
        using var outbox = new VerdictOutbox(Options.Create(new OutboxOptions { Path = _dir.Combine($"outbox-{Guid.NewGuid():N}") }), NullLogger<VerdictOutbox>.Instance);
        using var publisher = new MqttPublisher(Options.Create(options), outbox, new PipelineCounters(), TimeProvider.System, log);
        await publisher.StartAsync(default);
        try
        {
            await Eventually.TrueAsync(() => log.Collector.GetSnapshot().Any(l => l.Message.Contains("unavailable", StringComparison.Ordinal)), "a failed connect in the daemon's log");
        }
        finally
        {
            await publisher.StopAsync(default);
        }

        foreach (var (level, message) in log.Collector.GetSnapshot().Select(r => (r.Level, r.Message)))
        {
            output.WriteLine($"daemon {level}: {message}");
        }

        Assert.False(publisher.IsConnected);
        return log;
    }
}
