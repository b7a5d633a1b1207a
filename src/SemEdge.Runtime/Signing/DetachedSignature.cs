using System.Security.Cryptography;
using System.Text;

namespace SemEdge.Signing;

/// <summary>
/// A detached signature file beside the file it vouches for (<c>classifier.int8.json.sig</c>,
/// <c>semedge-V-linux-arm64.tar.gz.sig</c>). Three ASCII lines:
/// <code>
/// semedge-signature-v1 PURPOSE
/// key KEYID
/// ed25519 BASE64-SIGNATURE
/// </code>
/// The Ed25519 signature is over a short statement, <c>"semedge-signature-v1\nPURPOSE\nsha256 HEX\n"</c>, where HEX is
/// the SHA-256 of the signed file's exact bytes. The purpose keeps a bundle's signature from passing for a
/// manifest's; a manifest carries its ONNX file's sha256, so signing the manifest covers the model and its class
/// list. <c>scripts/publish</c> and <c>scripts/flash</c> build the same statement with <c>openssl pkeyutl</c>.
/// </summary>
public static class DetachedSignature
{
    public const string Extension = ".sig";
    public const string Header = "semedge-signature-v1";
    public const string ModelManifestPurpose = "model-manifest";
    public const string BundlePurpose = "bundle";

    public static string PathFor(string signedFile) => signedFile + Extension;

    /// <summary>The bytes the key signs for <paramref name="content"/>.</summary>
    public static byte[] Statement(string purpose, ReadOnlySpan<byte> content) =>
        Encoding.ASCII.GetBytes($"{Header}\n{purpose}\nsha256 {Convert.ToHexStringLower(SHA256.HashData(content))}\n");

    /// <summary>Signs <paramref name="signedFile"/> and writes its <c>.sig</c> file (replacing an older one atomically).</summary>
    public static string Sign(string signedFile, string purpose, PrivateSigningKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var signature = key.Sign(Statement(purpose, File.ReadAllBytes(signedFile)));
        var path = PathFor(signedFile);
        var temp = path + ".tmp";
        File.WriteAllText(temp, $"{Header} {purpose}\nkey {key.Public.Id}\ned25519 {Convert.ToBase64String(signature)}\n");
        File.Move(temp, path, overwrite: true);
        return path;
    }

    /// <summary>
    /// Checks that <paramref name="content"/> (the file's bytes as read once by the caller) carries a valid
    /// signature by one of <paramref name="trusted"/>; returns that key.
    /// </summary>
    /// <exception cref="SignatureException">Unsigned, malformed, by an unknown key, or not valid for these bytes: the message says which.</exception>
    public static PublicSigningKey Verify(string signedFile, ReadOnlySpan<byte> content, string purpose, IReadOnlyList<PublicSigningKey> trusted)
    {
        ArgumentNullException.ThrowIfNull(trusted);
        var path = PathFor(signedFile);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SignatureException($"{Path.GetFileName(signedFile)} is not signed (no {Path.GetFileName(path)} beside it)");
        }

        var header = lines.ElementAtOrDefault(0)?.Trim();
        var keyId = Field(lines, "key ");
        var base64 = Field(lines, "ed25519 ");
        if (header != $"{Header} {purpose}" || keyId is null || base64 is null)
        {
            throw new SignatureException($"{Path.GetFileName(path)} is not a SemEdge {purpose} signature (expected '{Header} {purpose}', 'key ...', 'ed25519 ...' lines)");
        }

        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new SignatureException($"{Path.GetFileName(path)}: the signature is not base64");
        }

        if (trusted.Count == 0)
        {
            throw new SignatureException($"{Path.GetFileName(signedFile)} is signed by key {keyId}, but no key is trusted (Inference:TrustedKeys is empty)");
        }

        var statement = Statement(purpose, content);
        foreach (var key in trusted)
        {
            if (key.Verifies(statement, signature))
            {
                return key;
            }
        }

        var named = trusted.FirstOrDefault(k => k.Id == keyId);
        throw new SignatureException(named is not null
            ? $"{Path.GetFileName(signedFile)}: the signature by key {keyId} ({named.Name}) does not match its bytes: the file was changed after signing"
            : $"{Path.GetFileName(signedFile)} is signed by key {keyId}, which is not trusted (trusted: {string.Join(", ", trusted.Select(k => $"{k.Name} {k.Id}"))})");
    }

    private static string? Field(string[] lines, string prefix) =>
        lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..].Trim();
}

/// <summary>A file's signature is missing or does not hold; the message says which, for the log and doctor.</summary>
public sealed class SignatureException(string message) : Exception(message);
