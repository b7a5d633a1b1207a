using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace SemEdge.Publishing;

/// <summary>
/// In-process MQTT broker (Mqtt:Mode = embedded) on Mqtt:Embedded:BindAddress:Port, so a PLC can connect straight
/// to the board without a separate broker. The <see cref="MqttPublisher"/> connects to it like to any broker.
/// When Mqtt:Username is set, clients must present that username and password. Retained messages live in
/// memory only: the publisher re-sends status and model on every (re)connect.
/// </summary>
public sealed class EmbeddedBroker : IHostedService, IDisposable
{
    private readonly MqttOptions _options;
    private readonly ILogger<EmbeddedBroker> _logger;
    private MqttServer? _server;

    public EmbeddedBroker(IOptions<MqttOptions> options, ILogger<EmbeddedBroker> logger)
    {
        _options = options.Value;
        _logger = logger;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var address = IPAddress.Parse(_options.Embedded.BindAddress);
        var v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        var factory = new MqttServerFactory();
        var serverOptions = factory.CreateServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointPort(_options.Embedded.Port)
            // Only the configured family listens: 127.0.0.1 must not also open [::]:1883 to the network.
            .WithDefaultEndpointBoundIPAddress(v6 ? IPAddress.None : address)
            .WithDefaultEndpointBoundIPV6Address(v6 ? address : IPAddress.None)
            .Build();
        var server = factory.CreateMqttServer(serverOptions);
        server.ValidatingConnectionAsync += ValidateConnectionAsync;

        try
        {
            await server.StartAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            server.Dispose();
            throw new InvalidOperationException(
                $"The embedded MQTT broker cannot listen on {_options.Embedded.BindAddress}:{_options.Embedded.Port} ({ex.GetBaseException().Message}). " +
                "Is another broker (mosquitto?) using the port? Change Mqtt:Embedded:Port or stop it.", ex);
        }

        _server = server;
        _logger.LogInformation("Embedded MQTT broker listening on {Address}:{Port}", _options.Embedded.BindAddress, _options.Embedded.Port);
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

    private Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (string.IsNullOrEmpty(e.ClientId) && e.CleanSession != false)
        {
            // MQTT lets a clean-session client leave its id to the broker (mosquitto_sub does by default);
            // MQTTnet refuses such a client unless the server assigns one.
            e.AssignedClientIdentifier = $"anonymous-{Guid.NewGuid():N}";
        }

        if (!string.IsNullOrEmpty(_options.Username) &&
            (!string.Equals(e.UserName, _options.Username, StringComparison.Ordinal) ||
            !string.Equals(e.Password, _options.Password ?? string.Empty, StringComparison.Ordinal)))
        {
            _logger.LogWarning("Embedded MQTT broker refused client {ClientId} from {Endpoint}: bad username or password", e.ClientId, e.RemoteEndPoint);
            e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
        }

        return Task.CompletedTask;
    }
}
