using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SemEdge.Tests.Platform;

namespace SemEdge.Tests.Publishing;

/// <summary>
/// Throwaway CAs and certificates in a test folder, made by openssl as a site would make them (NAME.crt and
/// NAME.key, PEM). Certificates with chosen validity dates (an expired one) are signed by the same CA key with
/// .NET, because openssl 3.0's x509 cannot backdate.
/// </summary>
internal sealed class TestPki(string folder)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public string Folder { get; } = folder;

    public string Crt(string name) => Path.Combine(Folder, $"{name}.crt");

    public string Key(string name) => Path.Combine(Folder, $"{name}.key");

    public Task CreateCaAsync(string name, string subject) =>
        OpenSslAsync("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", $"{name}.key", "-out", $"{name}.crt", "-days", "2", "-subj", subject);

    /// <summary>A certificate signed by <paramref name="ca"/>; <paramref name="san"/> like "DNS:localhost,IP:127.0.0.1".</summary>
    public async Task IssueAsync(string name, string subject, string? san, string ca = "ca")
    {
        await OpenSslAsync("req", "-newkey", "rsa:2048", "-nodes", "-keyout", $"{name}.key", "-out", $"{name}.csr", "-subj", subject);
        string[] sign = ["x509", "-req", "-in", $"{name}.csr", "-CA", $"{ca}.crt", "-CAkey", $"{ca}.key", "-CAcreateserial", "-out", $"{name}.crt", "-days", "2"];
        if (san is null)
        {
            await OpenSslAsync(sign);
            return;
        }

        await File.WriteAllTextAsync(Path.Combine(Folder, $"{name}.ext"), $"subjectAltName={san}\n");
        await OpenSslAsync([.. sign, "-extfile", $"{name}.ext"]);
    }

    /// <summary>
    /// A server certificate for 127.0.0.1/localhost valid only between the given dates, signed by <paramref name="ca"/>
    /// (whose own dates must cover them: see <see cref="CreateCaWithDates"/>).
    /// </summary>
    public void IssueWithDates(string name, string subject, DateTimeOffset notBefore, DateTimeOffset notAfter, string ca = "ca")
    {
        using var issuer = X509Certificate2.CreateFromPemFile(Crt(ca), Key(ca));
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.Create(issuer, notBefore, notAfter, RandomNumberGenerator.GetBytes(8));
        File.WriteAllText(Crt(name), certificate.ExportCertificatePem());
        File.WriteAllText(Key(name), key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>A CA valid between the given dates (openssl's own CA starts now, too late to sign an expired leaf).</summary>
    public void CreateCaWithDates(string name, string subject, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var certificate = request.CreateSelfSigned(notBefore, notAfter);
        File.WriteAllText(Crt(name), certificate.ExportCertificatePem());
        File.WriteAllText(Key(name), key.ExportPkcs8PrivateKeyPem());
    }

    public async Task OpenSslAsync(params string[] args)
    {
        var run = await ToolRun.RunAsync("openssl", args, Timeout, Folder);
        Assert.True(run.ExitCode == 0, $"openssl {string.Join(' ', args)} failed: {run.Output}");
    }
}
