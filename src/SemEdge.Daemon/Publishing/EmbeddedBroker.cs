using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace SemEdge.Publishing;

/// <summary>
/// In-process MQTT broker (Mqtt:Mode = embedded) on Mqtt:Embedded:BindAddress:Port, so a PLC can connect straight
/// to the board without a separate broker. The daemon's <see cref="MqttPublisher"/> does not connect to it: it hands
/// its messages to the broker in process (<see cref="PublishAsDaemonAsync"/>), through the same access rule and
/// retained store as a client's PUBLISH, without a loopback connection, a second encoding and a PUBACK per verdict.
/// Who may connect, read and write is <see cref="EmbeddedBrokerAccess"/>'s rule; with Mqtt:Embedded:Tls the listener speaks TLS only. Retained messages live in memory only: the publisher
/// re-sends status and model on every (re)connect, and <see cref="RetainedStateGuard"/> makes sure a subscriber gets
/// the current ones even when they change while it subscribes.
/// </summary>
public sealed class EmbeddedBroker : IHostedService, IDisposable
{
    private const string ClientKey = "semedge.client";
    private readonly MqttOptions _options;
    private readonly ILogger<EmbeddedBroker> _logger;
    private readonly RetainedStateGuard _retainedState;
    private readonly System.Collections.Hashtable _daemonSession;
    private EmbeddedBrokerAccess? _access;
    private MqttServer? _server;

    public EmbeddedBroker(IOptions<MqttOptions> options, ILogger<EmbeddedBroker> logger)
    {
        _options = options.Value;
        _logger = logger;
        // Session items naming the daemon, for what the broker sends in its name (read only after this point).
        _daemonSession = new System.Collections.Hashtable { [ClientKey] = new BrokerClient(BrokerClientKind.Daemon, null) };
        _retainedState = new RetainedStateGuard(
            [_options.Topic(MqttPublisher.StatusLeaf), _options.Topic(MqttPublisher.ModelLeaf)], _daemonSession);
    }

    /// <summary>True from a successful <see cref="StartAsync"/> until <see cref="StopAsync"/>.</summary>
    public bool IsRunning => _server is { IsStarted: true };

    /// <summary>
    /// Publishes <paramref name="message"/> as the daemon, in process: the access rule, the retained store and the
    /// subscribers' queues take it as they take a PUBLISH from the daemon's client, and it has reached them all when
    /// the task completes: the moment a broker would send its PUBACK. (The access rule gives the daemon its own
    /// topics, so it refuses nothing sent this way; MQTTnet would not say if it did.)
    /// </summary>
    /// <exception cref="InvalidOperationException">The broker is not running.</exception>
    public async Task PublishAsDaemonAsync(MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var server = _server;
        if (server is not { IsStarted: true })
        {
            throw new InvalidOperationException("the embedded MQTT broker is not running");
        }

        var injected = new InjectedMqttApplicationMessage(message)
        {
            SenderClientId = _options.EffectiveClientId,
            CustomSessionItems = _daemonSession,
        };
        await server.InjectApplicationMessage(injected, cancellationToken).ConfigureAwait(false);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var embedded = _options.Embedded;
        // Checked here too, not only by the validator: a broker built by hand must not open up either.
        var access = EmbeddedBrokerAccess.Load(_options);
        var address = IPAddress.Parse(embedded.BindAddress);
        var v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        var factory = new MqttServerFactory();
        var builder = factory.CreateServerOptionsBuilder();
        // Only the configured family listens: 127.0.0.1 must not also open [::]:1883 to the network.
        var v4Address = v6 ? IPAddress.None : address;
        var v6Address = v6 ? address : IPAddress.None;
        if (embedded.Tls.Enabled)
        {
            builder = builder
                .WithoutDefaultEndpoint()
                .WithEncryptedEndpoint()
                .WithEncryptedEndpointPort(embedded.Port)
                .WithEncryptedEndpointBoundIPAddress(v4Address)
                .WithEncryptedEndpointBoundIPV6Address(v6Address)
                .WithEncryptionCertificate(LoadServerCertificate(embedded.Tls));
        }
        else
        {
            builder = builder
                .WithDefaultEndpoint()
                .WithDefaultEndpointPort(embedded.Port)
                .WithDefaultEndpointBoundIPAddress(v4Address)
                .WithDefaultEndpointBoundIPV6Address(v6Address);
        }

        var server = factory.CreateMqttServer(builder.Build());
        server.ValidatingConnectionAsync += ValidateConnectionAsync;
        server.InterceptingPublishAsync += InterceptPublishAsync;
        server.InterceptingSubscriptionAsync += InterceptSubscriptionAsync;
        _retainedState.Attach(server);
        _access = access;

        try
        {
            await server.StartAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            server.Dispose();
            throw new InvalidOperationException(
                $"The embedded MQTT broker cannot listen on {embedded.BindAddress}:{embedded.Port} ({ex.GetBaseException().Message}). " +
                "Is another broker (mosquitto?) using the port? Change Mqtt:Embedded:Port or stop it.", ex);
        }

        _server = server;
        _logger.LogInformation(
            "Embedded MQTT broker listening on {Address}:{Port} ({Transport}; {Logins})",
            embedded.BindAddress, embedded.Port, embedded.Tls.Enabled ? "TLS" : "plain TCP",
            access.HasAccounts ? $"accounts from {embedded.PasswordFile}" : "anonymous read-only clients, loopback only");
    }

    /// <summary>The ids of the clients connected now (the PLC, tools); the daemon itself is not among them.</summary>
    internal async Task<IReadOnlyList<string>> ConnectedClientIdsAsync(CancellationToken cancellationToken)
    {
        if (_server is not { IsStarted: true } server)
        {
            return [];
        }

        var clients = await server.GetClientsAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return [.. clients.Select(c => c.Id)];
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is { } server)
        {
            await server.StopAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Embedded MQTT broker stopped");
        }
    }

    public void Dispose() => _server?.Dispose();

    internal static X509Certificate2 LoadServerCertificate(MqttEmbeddedTlsOptions tls)
    {
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(tls.CertFile!, tls.KeyFile);
            // A PEM key is ephemeral; SslStream needs the certificate with its key in one exportable blob.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidDataException(
                $"Mqtt:Embedded:Tls: certificate '{tls.CertFile}' with key '{tls.KeyFile}' cannot be loaded: {ex.Message}", ex);
        }
    }

    private Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (string.IsNullOrEmpty(e.ClientId) && e.CleanSession != false)
        {
            // MQTT lets a clean-session client leave its id to the broker (mosquitto_sub does by default);
            // MQTTnet refuses such a client unless the server assigns one.
            e.AssignedClientIdentifier = $"anonymous-{Guid.NewGuid():N}";
        }

        var (code, reason, client) = _access!.Authenticate(e.ClientId, e.UserName, e.RawPassword);
        if (client is null)
        {
            _logger.LogWarning(
                "Embedded MQTT broker refused client {ClientId} from {Endpoint}: {Reason}",
                string.IsNullOrEmpty(e.ClientId) ? "(no id)" : e.ClientId, e.RemoteEndPoint, reason);
            e.ReasonCode = code;
            e.ReasonString = reason;
            return Task.CompletedTask;
        }

        // Kept with the session: publishes (the last will too) are judged by who connected, not by what they claim.
        e.SessionItems[ClientKey] = client;
        _retainedState.NoteConnect(e.SessionItems);
        return Task.CompletedTask;
    }

    /// <summary>The rule's verdict for the client that opened the session (a session without one is refused).</summary>
    private static string? Refusal(System.Collections.IDictionary sessionItems, Func<BrokerClient, string?> rule) =>
        sessionItems[ClientKey] is BrokerClient client ? rule(client) : "unknown session";

    private Task InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        var topic = e.ApplicationMessage.Topic;
        if (Refusal(e.SessionItems, client => _access!.RefusePublish(client, topic)) is { } refusal)
        {
            _logger.LogWarning("Embedded MQTT broker refused a publish to {Topic} by {ClientId}: {Reason}", topic, e.ClientId, refusal);
            e.ProcessPublish = false;
            e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
            e.Response.ReasonString = refusal;
        }

        return Task.CompletedTask;
    }

    private Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        var filter = e.TopicFilter.Topic;
        if (Refusal(e.SessionItems, client => _access!.RefuseSubscribe(client, filter)) is { } refusal)
        {
            _logger.LogWarning("Embedded MQTT broker refused a subscription to {Filter} by {ClientId}: {Reason}", filter, e.ClientId, refusal);
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
            e.ReasonString = refusal;
        }

        return Task.CompletedTask;
    }
}
