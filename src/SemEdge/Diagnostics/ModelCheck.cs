using System.Security.Cryptography;
using SemEdge.Inference;

namespace SemEdge.Diagnostics;

/// <summary>The models the daemon would load are present and match the SHA-256 their manifests record.</summary>
public static class ModelCheck
{
    public const string Area = "models";

    public static async Task<IReadOnlyList<CheckResult>> RunAsync(DoctorContext context, CancellationToken cancellationToken)
    {
        var inference = context.Inference.Value;
        if (inference is null)
        {
            return [CheckResult.Fail(Area, "not checked: the Inference section is invalid (see config)")];
        }

        var results = new List<CheckResult>();
        string? classifier = inference.ClassifierManifest;
        if (classifier is null)
        {
            try
            {
                classifier = ShippedModels.Resolve(ShippedModels.ClassifierFile);
            }
            catch (FileNotFoundException ex)
            {
                results.Add(CheckResult.Fail(Area, $"classifier: {ex.Message}"));
            }
        }

        if (classifier is not null)
        {
            results.Add(await CheckManifestAsync("classifier", classifier, cancellationToken));
        }

        var screen = inference.ScreenManifest;
        if (screen is null && context.Pipeline.Value?.UseShippedScreen == true && ShippedModels.FindFolder() is { } shipped
            && File.Exists(Path.Combine(shipped, ShippedModels.ScreenFile)))
        {
            screen = Path.Combine(shipped, ShippedModels.ScreenFile);
        }

        if (screen is not null)
        {
            results.Add(await CheckManifestAsync("screen", screen, cancellationToken));
        }

        return results;
    }

    public static async Task<CheckResult> CheckManifestAsync(string role, string manifestPath, CancellationToken cancellationToken)
    {
        ModelManifest manifest;
        try
        {
            manifest = ModelManifest.Load(manifestPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidDataException)
        {
            return CheckResult.Fail(Area, $"{role}: cannot read the manifest {manifestPath}: {ex.Message}");
        }

        var model = manifest.ResolveModelPath(manifestPath);
        if (!File.Exists(model))
        {
            return CheckResult.Fail(Area, $"{role}: {model} (named by {Path.GetFileName(manifestPath)}) does not exist");
        }

        string actual;
        await using (var stream = File.OpenRead(model))
        {
            actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
        }

        if (!string.Equals(actual, manifest.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            return CheckResult.Fail(Area,
                $"{role}: {Path.GetFileName(model)} has sha256 {actual[..12]}…, its manifest says {manifest.Sha256[..Math.Min(12, manifest.Sha256.Length)]}… (corrupt or replaced file: reinstall the release)");
        }

        return CheckResult.Pass(Area,
            $"{role}: {manifest.Id} {manifest.Version} ({manifest.Format}, {manifest.Classes.Count} classes), sha256 matches ({model})");
    }
}
