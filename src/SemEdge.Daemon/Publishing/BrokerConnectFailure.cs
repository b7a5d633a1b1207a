using System.Net.Sockets;
using System.Security.Authentication;
using MQTTnet;
using MQTTnet.Exceptions;

namespace SemEdge.Publishing;

/// <summary>
/// Says why a connect to the broker failed in the technician's terms (wrong password, expired certificate,
/// plaintext port...), from the exception and what the TLS validation saw. The daemon's log and
/// <c>semedge doctor</c> both use it, so they give the same reason.
/// </summary>
public static class BrokerConnectFailure
{
    /// <param name="clientId">The client id that was sent, when not the daemon's own.</param>
    public static string Explain(Exception exception, BrokerConnectAttempt attempt, MqttOptions options, string? clientId = null)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentNullException.ThrowIfNull(attempt);
        var (host, port) = BrokerClientOptions.Endpoint(options);
        var tls = options.IsEmbedded ? options.Embedded.Tls.Enabled : options.Tls.Enabled;
        var detail = exception.GetBaseException().Message;

        if (FindConnectResult(exception) is { } refused)
        {
            return Refused(refused, options, clientId ?? options.EffectiveClientId);
        }

        if (attempt.CertificateProblem is { } certificate)
        {
            return certificate;
        }

        var socket = Find<SocketException>(exception);
        switch (socket?.SocketErrorCode)
        {
            case SocketError.ConnectionRefused:
                return $"nothing listens on {host}:{port} (connection refused)";
            case SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData:
                return $"the host name {host} does not resolve ({socket.Message})";
            case SocketError.NetworkUnreachable or SocketError.HostUnreachable or SocketError.TimedOut:
                return $"{host}:{port} cannot be reached ({socket.Message})";
        }

        if (Find<MqttCommunicationTimedOutException>(exception) is not null || exception is OperationCanceledException)
        {
            return tls && !attempt.CertificateSeen
                ? $"{host}:{port} accepted TCP but no TLS handshake completed in time ({detail}): is it a plaintext MQTT port? (TLS is usually 8883)"
                : $"{host}:{port} did not answer the MQTT CONNECT in time ({detail})";
        }

        if (tls && !attempt.CertificateSeen)
        {
            // The broker answered the TLS ClientHello with something that is not TLS, or hung up on it.
            return $"no TLS handshake with {host}:{port} ({detail}): is it a plaintext MQTT port? Point Mqtt:Port at the broker's TLS port (usually 8883), or turn Mqtt:Tls:Enabled off";
        }

        if (tls)
        {
            return attempt.ClientCertificate is null
                ? $"the broker {host}:{port} ended the TLS session after checking its own certificate ({detail}): it probably demands a client certificate, and Mqtt:Tls:ClientCert is empty"
                : $"the broker {host}:{port} ended the TLS session ({detail}): it probably refused the client certificate '{attempt.ClientCertificate}' (not signed by a CA it trusts, or expired)";
        }

        if (Find<MqttProtocolViolationException>(exception) is not null)
        {
            return $"{host}:{port} answered with something that is not MQTT ({detail}): is it the broker's MQTT port? (if it is a TLS port, set Mqtt:Tls:Enabled)";
        }

        if (Find<AuthenticationException>(exception) is null && (socket is not null || Find<MqttCommunicationException>(exception) is not null))
        {
            return $"{host}:{port} closed the connection before answering the MQTT CONNECT ({detail}): if it is a TLS port, set Mqtt:Tls:Enabled";
        }

        return $"{host}:{port}: {detail}";
    }

    private static string Refused(MqttClientConnectResult result, MqttOptions options, string clientId)
    {
        var said = string.IsNullOrEmpty(result.ReasonString) ? string.Empty : $" (the broker says: {result.ReasonString})";
        return result.ResultCode switch
        {
            MqttClientConnectResultCode.BadUserNameOrPassword =>
                $"the broker refused the login: bad username or password for user '{options.Username}'{said}",
            // mosquitto 2 answers a wrong password over MQTT 5 with "not authorized" too, so both causes are named.
            MqttClientConnectResultCode.NotAuthorized when string.IsNullOrEmpty(options.Username) =>
                $"the broker refused the login as not authorized{said}: it needs an account (Mqtt:Username and a password), or does not allow the client id '{clientId}'",
            MqttClientConnectResultCode.NotAuthorized =>
                $"the broker refused the login as not authorized{said}: a wrong password for user '{options.Username}', or a user or client id '{clientId}' the broker does not allow",
            MqttClientConnectResultCode.ClientIdentifierNotValid =>
                $"the broker refused the client id '{clientId}'{said}: is another client using it? (Mqtt:ClientId)",
            MqttClientConnectResultCode.UnsupportedProtocolVersion =>
                $"the broker does not speak MQTT 5{said}",
            var code => $"the broker refused the connection: {code}{said}",
        };
    }

    private static MqttClientConnectResult? FindConnectResult(Exception exception) => Find<BrokerRefusedConnectionException>(exception)?.Result;

    private static T? Find<T>(Exception exception)
        where T : Exception
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is T match)
            {
                return match;
            }

            if (e is AggregateException aggregate && aggregate.InnerExceptions.Select(Find<T>).FirstOrDefault(x => x is not null) is { } inner)
            {
                return inner;
            }
        }

        return null;
    }
}

/// <summary>The broker answered CONNECT with a refusal (MQTTnet 5 returns that result instead of throwing).</summary>
public sealed class BrokerRefusedConnectionException(MqttClientConnectResult result)
    : Exception($"the broker refused the connection: {result.ResultCode} {result.ReasonString}")
{
    public MqttClientConnectResult Result { get; } = result;
}
