using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.EdEC;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Pkcs;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.X509;

namespace SemEdge.Signing;

/// <summary>
/// An Ed25519 public key that may vouch for models and bundles. Files and config hold it in the standard forms
/// OpenSSL uses too: a PEM <c>PUBLIC KEY</c> (SubjectPublicKeyInfo) file, or its one-line base64 body in config
/// (<c>Inference:TrustedKeys:NAME</c>), so <c>scripts/flash</c> can check a bundle with <c>openssl pkeyutl</c>.
/// </summary>
public sealed class PublicSigningKey
{
    private readonly Ed25519PublicKeyParameters _key;

    private PublicSigningKey(Ed25519PublicKeyParameters key, string name)
    {
        _key = key;
        Name = name;
        Id = KeyIdOf(key.GetEncoded());
    }

    /// <summary>What the config calls this key (e.g. <c>semedge-release</c>); for log lines.</summary>
    public string Name { get; }

    /// <summary>First 16 hex digits of the SHA-256 of the raw 32-byte key; signature files name their key by it.</summary>
    public string Id { get; }

    /// <summary>The one-line form: base64 of the DER SubjectPublicKeyInfo (the PEM file's body).</summary>
    public string ToBase64() =>
        Convert.ToBase64String(SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(_key).GetDerEncoded());

    public string ToPem() => PemEncoding.WriteString("PUBLIC KEY", Convert.FromBase64String(ToBase64())) + "\n";

    /// <summary>Parses the one-line base64 form or a whole PEM file's text.</summary>
    /// <exception cref="FormatException">Not an Ed25519 public key, with the reason.</exception>
    public static PublicSigningKey Parse(string text, string name)
    {
        ArgumentNullException.ThrowIfNull(text);
        var der = PemOrBase64(text, "PUBLIC KEY");
        try
        {
            return PublicKeyFactory.CreateKey(der) is Ed25519PublicKeyParameters key
                ? new PublicSigningKey(key, name)
                : throw new FormatException($"{name}: not an Ed25519 public key");
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException or SecurityUtilityException or InvalidCastException)
        {
            throw new FormatException($"{name}: not an Ed25519 public key ({ex.Message})", ex);
        }
    }

    /// <summary>True when <paramref name="signature"/> is this key's Ed25519 signature of <paramref name="message"/>.</summary>
    public bool Verifies(ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != Ed25519.SignatureSize)
        {
            return false;
        }

        var verifier = new Ed25519Signer();
        verifier.Init(false, _key);
        verifier.BlockUpdate(message);
        return verifier.VerifySignature(signature.ToArray());
    }

    internal static PublicSigningKey From(Ed25519PublicKeyParameters key, string name) => new(key, name);

    internal static string KeyIdOf(byte[] raw) => Convert.ToHexStringLower(SHA256.HashData(raw))[..16];

    internal static byte[] PemOrBase64(string text, string label)
    {
        var trimmed = text.Trim();
        if (trimmed.StartsWith("-----", StringComparison.Ordinal))
        {
            if (!PemEncoding.TryFind(trimmed, out var fields) || !trimmed[fields.Label].SequenceEqual(label))
            {
                throw new FormatException($"expected a PEM '{label}' block");
            }

            return Convert.FromBase64String(trimmed[fields.Base64Data].ToString());
        }

        try
        {
            return Convert.FromBase64String(trimmed);
        }
        catch (FormatException ex)
        {
            throw new FormatException($"neither PEM nor base64 ({ex.Message})", ex);
        }
    }
}

/// <summary>
/// An Ed25519 private key in a PEM <c>PRIVATE KEY</c> (PKCS#8) file, as <c>semedge keygen</c> and
/// <c>openssl genpkey -algorithm ed25519</c> write it. Only signing tools hold one; the board never does.
/// </summary>
public sealed class PrivateSigningKey
{
    private readonly Ed25519PrivateKeyParameters _key;

    private PrivateSigningKey(Ed25519PrivateKeyParameters key, string path)
    {
        _key = key;
        Public = PublicSigningKey.From(key.GeneratePublicKey(), Path.GetFileName(path));
    }

    public PublicSigningKey Public { get; }

    /// <summary>A new random key pair (not yet written anywhere).</summary>
    public static PrivateSigningKey Generate(string path)
    {
        var generator = new Ed25519KeyPairGenerator();
        generator.Init(new Ed25519KeyGenerationParameters(new SecureRandom()));
        return new PrivateSigningKey((Ed25519PrivateKeyParameters)generator.GenerateKeyPair().Private, path);
    }

    /// <exception cref="FormatException">The file is not an Ed25519 private key.</exception>
    public static PrivateSigningKey Load(string path)
    {
        var text = File.ReadAllText(path);
        try
        {
            return PrivateKeyFactory.CreateKey(PublicSigningKey.PemOrBase64(text, "PRIVATE KEY")) is Ed25519PrivateKeyParameters key
                ? new PrivateSigningKey(key, path)
                : throw new FormatException($"{path}: not an Ed25519 private key");
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException or SecurityUtilityException or InvalidCastException)
        {
            throw new FormatException($"{path}: not an Ed25519 private key ({ex.Message})", ex);
        }
    }

    /// <summary>
    /// Writes the private key to <paramref name="path"/> (mode 0600, created new: an existing key is never
    /// overwritten) and the public key beside it as <c>PATH.pub</c>.
    /// </summary>
    public void Save(string path)
    {
        // PKCS#8 version 1 (the seed only), which OpenSSL 3.0 reads too; BouncyCastle's default adds the public key
        // (version 2), which `openssl pkeyutl` refuses, and scripts/publish signs bundles with openssl.
        var der = new PrivateKeyInfo(new AlgorithmIdentifier(EdECObjectIdentifiers.id_Ed25519), new DerOctetString(_key.GetEncoded())).GetDerEncoded();
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            // Readable by its owner only, from the first byte (no window with the default umask).
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(path, options))
        {
            stream.Write(Encoding.ASCII.GetBytes(PemEncoding.WriteString("PRIVATE KEY", der) + "\n"));
        }

        File.WriteAllText(PublicPathOf(path), Public.ToPem());
    }

    public byte[] Sign(ReadOnlySpan<byte> message)
    {
        var signer = new Ed25519Signer();
        signer.Init(true, _key);
        signer.BlockUpdate(message);
        return signer.GenerateSignature();
    }

    public static string PublicPathOf(string privatePath) => privatePath + ".pub";
}

internal static class Ed25519
{
    public const int SignatureSize = 64;
}
