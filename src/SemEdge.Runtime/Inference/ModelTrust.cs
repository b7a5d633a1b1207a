using System.Text.Json;
using SemEdge.Signing;

namespace SemEdge.Inference;

/// <summary>A manifest read once, with the key that vouched for it (null when accepted unsigned at start).</summary>
public sealed record TrustedManifest(string Path, ModelManifest Manifest, PublicSigningKey? SignedBy, string? Refusal);

/// <summary>
/// The model trust check: a manifest is read once, its detached signature (<c>MANIFEST.sig</c>) is checked over
/// exactly those bytes, and the manifest parsed from them is what the caller compares the loaded model against.
/// The manifest names its ONNX file's sha256 and its class list, so a valid signature vouches for both.
/// </summary>
public static class ModelTrust
{
    /// <summary>Reads and checks <paramref name="manifestPath"/>.</summary>
    /// <param name="allowUnsigned">Accept a failed signature check (development start-up only); the refusal is returned for the warning.</param>
    /// <exception cref="ModelLoadException">Unreadable, or not validly signed by a trusted key and not <paramref name="allowUnsigned"/>.</exception>
    public static TrustedManifest Check(string manifestPath, IReadOnlyList<PublicSigningKey> trusted, bool allowUnsigned)
    {
        byte[] bytes;
        ModelManifest manifest;
        try
        {
            bytes = File.ReadAllBytes(manifestPath);
            manifest = ModelManifest.Parse(bytes, manifestPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or InvalidDataException)
        {
            throw new ModelLoadException($"{manifestPath}: cannot read the manifest: {ex.Message}", ex);
        }

        try
        {
            var key = DetachedSignature.Verify(manifestPath, bytes, DetachedSignature.ModelManifestPurpose, trusted);
            return new TrustedManifest(manifestPath, manifest, key, null);
        }
        catch (Exception ex) when (ex is SignatureException or IOException or UnauthorizedAccessException)
        {
            var reason = $"{ex.Message}; a model must be signed by a key in Inference:TrustedKeys (semedge sign-model)";
            return allowUnsigned
                ? new TrustedManifest(manifestPath, manifest, null, reason)
                : throw new ModelLoadException($"{manifestPath}: untrusted: {reason}", ex);
        }
    }

    /// <summary>
    /// The model that was loaded from <paramref name="loaded"/> is the one whose manifest was checked: a manifest
    /// rewritten between the check and the load is refused.
    /// </summary>
    /// <exception cref="ModelLoadException">It is not.</exception>
    public static void ConfirmLoaded(TrustedManifest checkedManifest, ModelManifest loaded)
    {
        ArgumentNullException.ThrowIfNull(checkedManifest);
        ArgumentNullException.ThrowIfNull(loaded);
        if (checkedManifest.Manifest.ToJson() != loaded.ToJson())
        {
            throw new ModelLoadException($"{checkedManifest.Path}: the manifest changed while it was being loaded; not trusted (the next check retries)");
        }
    }
}
