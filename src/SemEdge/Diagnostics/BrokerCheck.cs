using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Formatter;
using SemEdge.Publishing;

namespace SemEdge.Diagnostics;

/// <summary>The MQTT broker answers, and the TLS files the publisher needs are readable and in date.</summary>
public static class BrokerCheck
{
    public const string Area = "broker";
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ExpiryWarning = TimeSpan.FromDays(30);

    public static async Task<IReadOnlyList<CheckResult>> RunAsync(DoctorContext context, TimeProvider time, CancellationToken cancellationToken)
    {
        if (context.Mqtt.Value is not { } mqtt)
        {
            return [CheckResult.Fail(Area, "not checked: the Mqtt section is invalid (see config)")];
        }

        var results = new List<CheckResult>();
        var (host, port) = BrokerClientOptions.Endpoint(mqtt);
        if (mqtt.IsEmbedded)
        {
            // The embedded broker lives inside the daemon: it answers only while the daemon runs.
            var reached = await TryTcpAsync(host, port, cancellationToken);
            results.Add(reached is null
                ? CheckResult.Pass(Area, $"embedded broker answers on {host}:{port} (the daemon is running)")
                : CheckResult.Warn(Area, $"embedded broker on {host}:{port} does not answer ({reached}): expected only while the daemon is stopped"));
            return results;
        }

        if (mqtt.Tls.Enabled)
        {
            results.AddRange(TlsFiles(mqtt.Tls, time));
            // The handshake itself needs the publisher's TLS setup; reaching the port is checked here.
            var reached = await TryTcpAsync(host, port, cancellationToken);
            results.Add(reached is null
                ? CheckResult.Pass(Area, $"broker {host}:{port} accepts TCP connections (TLS)")
                : CheckResult.Fail(Area, $"broker {host}:{port} cannot be reached: {reached}"));
            return results;
        }

        results.Add(await MqttConnectAsync(mqtt, host, port, cancellationToken));
        return results;
    }

    private static async Task<CheckResult> MqttConnectAsync(MqttOptions mqtt, string host, int port, CancellationToken cancellationToken)
    {
        // Its own client id: reusing the daemon's would make the broker drop the daemon's session.
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId($"semedge-doctor-{mqtt.NodeId}-{Guid.NewGuid():N}"[..Math.Min(64, 32 + mqtt.NodeId.Length)])
            .WithCleanSession(true)
            .WithTimeout(ConnectTimeout);
        if (!string.IsNullOrEmpty(mqtt.Username))
        {
            builder = builder.WithCredentials(mqtt.Username, mqtt.Password ?? string.Empty);
        }

        using var client = new MqttClientFactory().CreateMqttClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            var result = await client.ConnectAsync(builder.Build(), timeout.Token);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                return CheckResult.Fail(Area, $"broker {host}:{port} refused the MQTT connection: {result.ResultCode} {result.ReasonString}");
            }

            await client.DisconnectAsync(new MqttClientDisconnectOptions(), CancellationToken.None);
            return CheckResult.Pass(Area, $"broker {host}:{port} accepts an MQTT connection");
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or SocketException
            or MQTTnet.Adapter.MqttConnectingFailedException)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            return CheckResult.Fail(Area, $"broker {host}:{port} cannot be reached over MQTT: {ex.Message}");
        }
    }

    private static async Task<string?> TryTcpAsync(string host, int port, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            await client.ConnectAsync(host, port, timeout.Token);
            return null;
        }
        catch (SocketException ex)
        {
            return ex.Message;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"no answer within {ConnectTimeout.TotalSeconds:0} s";
        }
    }

    internal static IEnumerable<CheckResult> TlsFiles(MqttTlsOptions tls, TimeProvider time)
    {
        var now = time.GetUtcNow();
        if (!string.IsNullOrEmpty(tls.CaFile))
        {
            yield return Certificates("Mqtt:Tls:CaFile", tls.CaFile, () =>
            {
                var collection = new X509Certificate2Collection();
                collection.ImportFromPemFile(tls.CaFile);
                return collection.Cast<X509Certificate2>().ToList();
            }, now);
        }

        if (!string.IsNullOrEmpty(tls.ClientCert))
        {
            yield return Certificates("Mqtt:Tls:ClientCert", tls.ClientCert, () =>
            {
                var pkcs12 = tls.ClientCert.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || tls.ClientCert.EndsWith(".p12", StringComparison.OrdinalIgnoreCase);
                return [pkcs12
                    ? X509CertificateLoader.LoadPkcs12FromFile(tls.ClientCert, tls.ClientCertPassword)
                    : X509Certificate2.CreateFromPemFile(tls.ClientCert, string.IsNullOrEmpty(tls.ClientKey) ? null : tls.ClientKey)];
            }, now);
        }
    }

    private static CheckResult Certificates(string key, string path, Func<List<X509Certificate2>> load, DateTimeOffset now)
    {
        if (!File.Exists(path))
        {
            return CheckResult.Fail(Area, $"{key} {path} does not exist");
        }

        List<X509Certificate2> certificates;
        try
        {
            certificates = load();
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            return CheckResult.Fail(Area, $"{key} {path} cannot be read: {ex.Message}");
        }

        try
        {
            if (certificates.Count == 0)
            {
                return CheckResult.Fail(Area, $"{key} {path} holds no certificate");
            }

            var first = certificates.MinBy(c => c.NotAfter)!;
            var notAfter = new DateTimeOffset(first.NotAfter.ToUniversalTime(), TimeSpan.Zero);
            if (notAfter <= now)
            {
                return CheckResult.Fail(Area, $"{key} {path}: certificate '{first.Subject}' expired on {notAfter:yyyy-MM-dd}");
            }

            if (new DateTimeOffset(first.NotBefore.ToUniversalTime(), TimeSpan.Zero) > now)
            {
                return CheckResult.Fail(Area, $"{key} {path}: certificate '{first.Subject}' is not valid before {first.NotBefore:yyyy-MM-dd} (board clock wrong?)");
            }

            return notAfter - now < ExpiryWarning
                ? CheckResult.Warn(Area, $"{key} {path}: certificate '{first.Subject}' expires on {notAfter:yyyy-MM-dd}; renew it")
                : CheckResult.Pass(Area, $"{key} {path}: {certificates.Count} certificate(s), valid until {notAfter:yyyy-MM-dd}");
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
    }
}
