using System.Security.Cryptography;
using SemEdge.Inference;

namespace SemEdge.Toolchain;

/// <summary>A model named on the command line: an ONNX file, or its manifest (which names the ONNX file).</summary>
public sealed record ModelFiles(string OnnxPath, ModelManifest? Manifest, string? ManifestPath)
{
    /// <summary>
    /// Resolves <paramref name="path"/>: a <c>.json</c> manifest (its model's SHA-256 is checked), or an
    /// <c>.onnx</c> file, whose manifest is <paramref name="manifestPath"/> or else the <c>.json</c> beside it.
    /// </summary>
    public static ModelFiles Resolve(string path, string? manifestPath = null, bool requireIntact = true)
    {
        if (!File.Exists(path))
        {
            throw new JobInputException($"model '{path}' does not exist");
        }

        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            var manifest = LoadManifest(path);
            var onnx = manifest.ResolveModelPath(path);
            if (!File.Exists(onnx))
            {
                throw new JobInputException($"manifest '{path}' names model file '{onnx}', which does not exist");
            }

            var files = new ModelFiles(onnx, manifest, path);
            if (requireIntact)
            {
                files.VerifyIntact();
            }

            return files;
        }

        var beside = Path.ChangeExtension(path, ".json");
        var candidate = manifestPath ?? (File.Exists(beside) ? beside : null);
        if (candidate is null)
        {
            return new ModelFiles(path, null, null);
        }

        if (!File.Exists(candidate))
        {
            throw new JobInputException($"manifest '{candidate}' does not exist");
        }

        return new ModelFiles(path, LoadManifest(candidate), candidate);
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static ModelManifest LoadManifest(string path)
    {
        try
        {
            return ModelManifest.Load(path);
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new JobInputException($"'{path}' is not a model manifest: {ex.Message}");
        }
    }

    /// <summary>When the model came through its manifest, its SHA-256 must match (a stale or swapped file fails).</summary>
    public void VerifyIntact()
    {
        if (Manifest is null || ManifestPath is null || !string.Equals(Path.GetExtension(ManifestPath), ".json", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var onnx = OnnxPath;
        var expected = Manifest.Sha256;
        var actual = Sha256(onnx);
        if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"{onnx}: SHA-256 is {actual}, the manifest expects {expected}; the model file was changed or replaced");
        }
    }
}
