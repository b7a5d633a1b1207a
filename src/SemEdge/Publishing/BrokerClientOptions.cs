using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace SemEdge.Publishing;

/// <summary>
/// Turns <see cref="MqttOptions"/> into MQTTnet client options: endpoint, credentials, keep-alive, the retained
/// <c>offline</c> last will on the status topic, and TLS (a CA file pins the broker to that CA).
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

    public static MqttClientOptions Create(MqttOptions options, ILogger logger)
    {
        var (host, port) = Endpoint(options);
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(options.EffectiveClientId)
            // The outbox is the durable queue; a broker-side session would only duplicate it.
            .WithCleanSession(true)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(options.KeepAliveSeconds))
            .WithTimeout(TimeSpan.FromSeconds(options.OperationTimeoutSeconds))
            .WithWillTopic(options.Topic("status"))
            .WithWillPayload(Offline)
            .WithWillRetain(true)
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);

        if (!string.IsNullOrEmpty(options.Username))
        {
            builder = builder.WithCredentials(options.Username, options.Password ?? string.Empty);
        }

        if (options.Tls.Enabled)
        {
            var tls = options.Tls;
            var trusted = LoadCa(tls.CaFile);
            var client = LoadClientCertificate(tls);
            builder = builder.WithTlsOptions(o =>
            {
                o.UseTls();
                o.WithTargetHost(host);
                if (client is not null)
                {
                    o.WithClientCertificates([client]);
                }

                if (trusted is not null)
                {
                    o.WithCertificateValidationHandler(e => IsSignedByCa(e.Certificate, e.Chain, e.SslPolicyErrors, trusted, tls.CaFile!, host, logger));
                }
            });
        }

        return builder.Build();
    }

    private static X509Certificate2Collection? LoadCa(string? caFile)
    {
        if (string.IsNullOrWhiteSpace(caFile))
        {
            return null;
        }

        var ca = new X509Certificate2Collection();
        ca.ImportFromPemFile(caFile);
        if (ca.Count == 0)
        {
            throw new InvalidOperationException($"Mqtt:Tls:CaFile '{caFile}' holds no PEM certificate.");
        }

        return ca;
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

    private static bool IsSignedByCa(
        X509Certificate? certificate,
        X509Chain? presented,
        SslPolicyErrors errors,
        X509Certificate2Collection trusted,
        string caFile,
        string host,
        ILogger logger)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            logger.LogError("Broker {Host} sent no TLS certificate", host);
            return false;
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            logger.LogError("Broker certificate does not name {Host} (check the certificate's subject alternative names)", host);
            return false;
        }

        // Only the configured CA counts: the system store is not consulted when a CA file is given.
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        using var leaf = certificate as X509Certificate2 is { } typed
            ? X509CertificateLoader.LoadCertificate(typed.RawData)
            : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (chain.Build(leaf))
        {
            return true;
        }

        var reasons = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()));
        logger.LogError(
            "Broker {Host} certificate '{Subject}' is not trusted by the CA in {CaFile}: {Reasons}",
            host, leaf.Subject, caFile, reasons);
        return false;
    }
}
