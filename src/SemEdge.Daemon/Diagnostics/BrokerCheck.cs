using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using SemEdge.Publishing;

namespace SemEdge.Diagnostics;

/// <summary>
/// The MQTT broker takes the daemon's own connection: the real TLS handshake (same trust, same client certificate)
/// and MQTT CONNECT (same login) as <c>semedge run</c>, under the doctor's own client id so the daemon's session
/// is left alone. A failure names its cause in the same words as the daemon's log. Also: the TLS files are
/// readable and in date, and the way secrets travel is sound.
/// </summary>
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
        results.AddRange(MqttSecrets.Warnings(mqtt, []).Select(w => CheckResult.Warn(Area, w)));
        if (mqtt.IsEmbedded)
        {
            if (mqtt.Embedded.Tls.Enabled)
            {
                results.Add(Certificates("Mqtt:Embedded:Tls:CertFile", mqtt.Embedded.Tls.CertFile!, () => [X509Certificate2.CreateFromPem(File.ReadAllText(mqtt.Embedded.Tls.CertFile!))], time.GetUtcNow()));
            }

            results.Add(await EmbeddedAsync(mqtt, cancellationToken));
            return results;
        }

        if (mqtt.Tls.Enabled)
        {
            results.AddRange(TlsFiles(mqtt.Tls, time));
        }

        results.Add(await ExternalAsync(mqtt, cancellationToken));
        return results;
    }

    /// <summary>Connects as the daemon would, under the doctor's client id; null on success, else the reason.</summary>
    internal static async Task<string?> TryConnectAsync(MqttOptions mqtt, CancellationToken cancellationToken)
    {
        // Its own client id: reusing the daemon's would take the daemon's session over (the embedded broker refuses it).
        var clientId = $"semedge-doctor-{mqtt.NodeId}-{Guid.NewGuid():N}"[..Math.Min(64, 32 + mqtt.NodeId.Length)];
        var attempt = new BrokerConnectAttempt();
        MqttClientOptions options;
        try
        {
            options = BrokerClientOptions.Create(mqtt, attempt, clientId);
        }
        catch (Exception ex) when (ex is InvalidOperationException or CryptographicException or IOException or UnauthorizedAccessException)
        {
            return ex.Message;
        }

        using var client = new MqttClientFactory().CreateMqttClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            var result = await client.ConnectAsync(options, timeout.Token);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                throw new BrokerRefusedConnectionException(result);
            }

            await client.DisconnectAsync(new MqttClientDisconnectOptions(), CancellationToken.None);
            return null;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OutOfMemoryException)
        {
            return BrokerConnectFailure.Explain(ex, attempt, mqtt, clientId);
        }
    }

    private static async Task<CheckResult> ExternalAsync(MqttOptions mqtt, CancellationToken cancellationToken)
    {
        var (host, port) = BrokerClientOptions.Endpoint(mqtt);
        var how = string.Join(", ", new[]
        {
            mqtt.Tls.Enabled ? "TLS" : "plain TCP",
            string.IsNullOrEmpty(mqtt.Username) ? "no login" : $"user '{mqtt.Username}'",
        });
        return await TryConnectAsync(mqtt, cancellationToken) is { } reason
            ? CheckResult.Fail(Area, $"broker {host}:{port} does not take the daemon's connection: {reason}")
            : CheckResult.Pass(Area, $"broker {host}:{port} accepts an MQTT connection with the daemon's settings ({how})");
    }

    private static async Task<CheckResult> EmbeddedAsync(MqttOptions mqtt, CancellationToken cancellationToken)
    {
        // The embedded broker lives inside the daemon: it answers only while the daemon runs. The doctor holds no
        // account, so with accounts a refused anonymous login is the right answer.
        var (host, port) = BrokerClientOptions.Endpoint(mqtt);
        var transport = mqtt.Embedded.Tls.Enabled ? "TLS" : "plain TCP";
        var reached = await TryTcpAsync(host, port, cancellationToken);
        if (reached is not null)
        {
            return CheckResult.Warn(Area, $"embedded broker on {host}:{port} does not answer ({reached}): expected only while the daemon is stopped");
        }

        var reason = await TryConnectAsync(mqtt, cancellationToken);
        return (reason, mqtt.Embedded.HasAccounts) switch
        {
            (null, false) => CheckResult.Pass(Area, $"embedded broker answers on {host}:{port} ({transport}; anonymous clients read only; the daemon is running)"),
            (null, true) => CheckResult.Fail(Area, $"embedded broker on {host}:{port} let the doctor in without an account: it must not"),
            ({ } r, true) when r.Contains("refused the login", StringComparison.Ordinal) =>
                CheckResult.Pass(Area, $"embedded broker answers on {host}:{port} ({transport}) and refuses a client without an account, as it should"),
            ({ } r, _) => CheckResult.Fail(Area, $"embedded broker on {host}:{port}: {r}"),
        };
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
