using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace SemEdge.Publishing;

/// <summary>
/// Turns <see cref="MqttOptions"/> into MQTTnet client options: endpoint, credentials, keep-alive, the retained
/// <c>offline</c> last will on the status topic, and TLS. The same options serve the daemon's publisher and
/// <c>semedge doctor</c>, so the doctor tests exactly what the daemon will do.
/// <para>TLS trust: a CA file pins the broker to that CA; without one the system store is used, and
/// <c>SSL_CERT_FILE</c> / <c>SSL_CERT_DIR</c>, when set, replace it as they do for OpenSSL. The embedded broker's
/// own listener is pinned to its certificate file. Revocation is not checked: plant CAs rarely publish CRLs.</para>
/// </summary>
internal static class BrokerClientOptions
{
    public const string Online = "online";
    public const string Offline = "offline";

    /// <summary>Host and port the publisher connects to: the embedded broker's own address in embedded mode.</summary>
    public static (string Host, int Port) Endpoint(MqttOptions options)
    {
        if (!options.IsEmbedded)
        {
            return (options.Host, options.Port);
        }

        // A broker bound to every interface is still reached over loopback from inside the board.
        var host = options.Embedded.BindAddress switch
        {
            "0.0.0.0" => "127.0.0.1",
            "::" => "::1",
            var address => address,
        };
        return (host, options.Embedded.Port);
    }

    /// <summary>
    /// The daemon's connection. <paramref name="attempt"/> records what the TLS validation saw, so a failed
    /// connect can be explained (<see cref="BrokerConnectFailure"/>); <paramref name="clientId"/> replaces the
    /// daemon's id (the doctor must not take the daemon's session over).
    /// </summary>
    public static MqttClientOptions Create(MqttOptions options, BrokerConnectAttempt attempt, string? clientId = null)
    {
        var (host, port) = Endpoint(options);
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(clientId ?? options.EffectiveClientId)
            // The outbox is the durable queue; a broker-side session would only duplicate it.
            .WithCleanSession(true)
            .WithKeepAlivePeriod(options.KeepAlive)
            .WithTimeout(options.OperationTimeout);
        if (clientId is null)
        {
            builder = builder
                .WithWillTopic(options.Topic("status"))
                .WithWillPayload(Offline)
                .WithWillRetain(true)
                .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        }

        if (options.IsEmbedded)
        {
            if (clientId is null)
            {
                // The embedded broker knows its own publisher by this key, never by a password in a file.
                builder = builder.WithCredentials(options.EffectiveClientId, options.DaemonSessionKey);
            }

            if (options.Embedded.Tls.Enabled)
            {
                using var own = X509Certificate2.CreateFromPem(File.ReadAllText(options.Embedded.Tls.CertFile!));
                var pinned = own.RawData;
                builder = builder.WithTlsOptions(o => o
                    .UseTls()
                    .WithTargetHost(host)
                    .WithCertificateValidationHandler(e => attempt.Judge(
                        e.Certificate is { } presented && presented.GetRawCertData().AsSpan().SequenceEqual(pinned)
                            ? null
                            : $"the embedded broker presented a certificate other than {options.Embedded.Tls.CertFile}")));
            }

            return builder.Build();
        }

        if (!string.IsNullOrEmpty(options.Username))
        {
            builder = builder.WithCredentials(options.Username, MqttSecrets.ReadPassword(options) ?? string.Empty);
        }

        if (options.Tls.Enabled)
        {
            var tls = options.Tls;
            var trust = BrokerTrust.Load(tls);
            var client = LoadClientCertificate(tls);
            attempt.ClientCertificate = client?.Subject;
            builder = builder.WithTlsOptions(o =>
            {
                o.UseTls();
                o.WithTargetHost(host);
                if (client is not null)
                {
                    o.WithClientCertificates([client]);
                }

                o.WithCertificateValidationHandler(e => attempt.Judge(trust.Check(e.Certificate, e.Chain, e.SslPolicyErrors, host)));
            });
        }

        return builder.Build();
    }

    private static X509Certificate2? LoadClientCertificate(MqttTlsOptions tls)
    {
        if (string.IsNullOrWhiteSpace(tls.ClientCert))
        {
            return null;
        }

        return MqttOptionsValidator.IsPfx(tls.ClientCert)
            ? X509CertificateLoader.LoadPkcs12FromFile(tls.ClientCert, tls.ClientCertPassword)
            : X509Certificate2.CreateFromPemFile(tls.ClientCert, tls.ClientKey);
    }
}

/// <summary>What one connect attempt saw of TLS, for <see cref="BrokerConnectFailure"/>.</summary>
public sealed class BrokerConnectAttempt
{
    private readonly Lock _lock = new();
    private bool _certificateSeen;
    private string? _certificateProblem;

    /// <summary>Subject of the client certificate offered, null when none is configured.</summary>
    public string? ClientCertificate { get; internal set; }

    /// <summary>True once the broker's certificate arrived (the TLS handshake got that far).</summary>
    public bool CertificateSeen
    {
        get
        {
            lock (_lock)
            {
                return _certificateSeen;
            }
        }
    }

    /// <summary>Why the broker's certificate was refused, null when it was accepted or never seen.</summary>
    public string? CertificateProblem
    {
        get
        {
            lock (_lock)
            {
                return _certificateProblem;
            }
        }
    }

    /// <summary>Forget the previous attempt; call before each connect.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _certificateSeen = false;
            _certificateProblem = null;
        }
    }

    internal bool Judge(string? problem)
    {
        lock (_lock)
        {
            _certificateSeen = true;
            _certificateProblem = problem;
        }

        return problem is null;
    }
}

/// <summary>
/// Whom the client trusts as the broker: the CA file, else the certificates named by SSL_CERT_FILE/SSL_CERT_DIR,
/// else the system store. <see cref="Check"/> gives the reason in words, or null when the certificate is good.
/// </summary>
internal sealed class BrokerTrust
{
    private readonly X509Certificate2Collection? _roots;

    private BrokerTrust(X509Certificate2Collection? roots, string source)
    {
        _roots = roots;
        Source = source;
    }

    public string Source { get; }

    public static BrokerTrust Load(MqttTlsOptions tls)
    {
        var caFile = tls.CaFile;
        if (!string.IsNullOrWhiteSpace(caFile))
        {
            var ca = new X509Certificate2Collection();
            ca.ImportFromPemFile(caFile);
            if (ca.Count == 0)
            {
                throw new InvalidOperationException($"Mqtt:Tls:CaFile '{caFile}' holds no PEM certificate.");
            }

            return new BrokerTrust(ca, $"the CA in {caFile}");
        }

        var file = tls.SystemCertFile;
        var dir = tls.SystemCertDir;
        if (string.IsNullOrEmpty(file) && string.IsNullOrEmpty(dir))
        {
            return new BrokerTrust(null, "the system trust store");
        }

        // OpenSSL's meaning: these replace the default locations. Files that hold no PEM certificate are skipped.
        var roots = new X509Certificate2Collection();
        var sources = new List<string>();
        if (!string.IsNullOrEmpty(file))
        {
            ImportIfPem(roots, file);
            sources.Add($"SSL_CERT_FILE={file}");
        }

        if (!string.IsNullOrEmpty(dir))
        {
            foreach (var folder in dir.Split(':', StringSplitOptions.RemoveEmptyEntries).Where(Directory.Exists))
            {
                foreach (var path in Directory.EnumerateFiles(folder))
                {
                    ImportIfPem(roots, path);
                }
            }

            sources.Add($"SSL_CERT_DIR={dir}");
        }

        return new BrokerTrust(roots, $"the CAs of {string.Join(" and ", sources)}");
    }

    public string? Check(X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors, string host)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return $"broker {host} sent no TLS certificate";
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        var problems = new List<string>();
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (_roots is not null)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        }

        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        if (!chain.Build(leaf))
        {
            var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
            var now = DateTime.Now;
            if (flags.HasFlag(X509ChainStatusFlags.NotTimeValid) && leaf.NotAfter < now)
            {
                problems.Add($"its certificate '{leaf.Subject}' expired on {leaf.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC");
            }
            else if (flags.HasFlag(X509ChainStatusFlags.NotTimeValid) && leaf.NotBefore > now)
            {
                problems.Add($"its certificate '{leaf.Subject}' is not valid before {leaf.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC (is the board's clock right?)");
            }
            else if (flags.HasFlag(X509ChainStatusFlags.NotTimeValid))
            {
                problems.Add($"a CA certificate above '{leaf.Subject}' is out of its validity dates");
            }

            if ((flags & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
            {
                problems.Add($"its certificate '{leaf.Subject}' (issued by '{leaf.Issuer}') is not signed by {Source}: unknown CA");
            }

            var other = flags & ~(X509ChainStatusFlags.NotTimeValid | X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain);
            if (other != X509ChainStatusFlags.NoError)
            {
                problems.Add(string.Join("; ", chain.ChainStatus.Where(s => (s.Status & other) != 0).Select(s => s.StatusInformation.Trim())));
            }
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            problems.Add($"its certificate names {Names(leaf)}, not {host}: wrong name (connect by a name the certificate holds, or reissue it)");
        }

        return problems.Count == 0 ? null : $"broker {host}: " + string.Join("; ", problems);
    }

    private static string Names(X509Certificate2 certificate)
    {
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        var names = san is null
            ? []
            : san.EnumerateDnsNames().Concat(san.EnumerateIPAddresses().Select(a => a.ToString())).ToList();
        return names.Count == 0 ? $"only '{certificate.Subject}' (no subject alternative names)" : string.Join(", ", names);
    }

    private static void ImportIfPem(X509Certificate2Collection roots, string path)
    {
        try
        {
            roots.ImportFromPemFile(path);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
        {
            // Not a certificate (OpenSSL's hash links point at files that are read again under their own name).
        }
    }
}
