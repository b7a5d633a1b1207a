using System.Security.Cryptography;
using SemEdge.Decision;
using SemEdge.Inference;

namespace SemEdge.Diagnostics;

/// <summary>
/// The models the daemon would load are present, match the SHA-256 their manifests record, are signed by a
/// trusted key, and fit the class table (naming the table classes the classifier cannot produce).
/// </summary>
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
            results.Add(CheckSignature("classifier", classifier, inference));
            if (context.Decision.Value is { } decision)
            {
                results.Add(CheckClassTable(classifier, decision));
            }
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
            results.Add(CheckSignature("screen", screen, inference));
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

    /// <summary>The daemon's own trust check (<see cref="ModelTrust"/>), with the daemon's trusted keys.</summary>
    public static CheckResult CheckSignature(string role, string manifestPath, InferenceOptions inference)
    {
        ArgumentNullException.ThrowIfNull(inference);
        try
        {
            var result = ModelTrust.Check(manifestPath, inference.ParseTrustedKeys(), allowUnsigned: inference.AllowUnsignedModelsAtStart);
            return result.SignedBy is { } key
                ? CheckResult.Pass(Area, $"{role}: {Path.GetFileName(manifestPath)} is signed by trusted key {key.Name} ({key.Id})")
                : CheckResult.Warn(Area, $"{role}: {result.Refusal}; it starts only because Inference:AllowUnsignedModelsAtStart is true (development), and no hot swap to an unsigned model is accepted");
        }
        catch (Exception ex) when (ex is ModelLoadException or FormatException)
        {
            return CheckResult.Fail(Area, $"{role}: {ex.Message}");
        }
    }

    /// <summary>The classifier's classes on the class table: an unknown class fails, a table class it lacks is a warning.</summary>
    public static CheckResult CheckClassTable(string manifestPath, DecisionOptions decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        IReadOnlyList<string> classes;
        try
        {
            classes = ModelManifest.Load(manifestPath).Classes;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidDataException)
        {
            return CheckResult.Fail(Area, $"class table: cannot read {manifestPath}: {ex.Message}");
        }

        var table = ClassTable.From(decision.ClassNumbers);
        if (table.Problems(classes) is { Count: > 0 } problems)
        {
            return CheckResult.Fail(Area, $"class table: {string.Join(" ", problems)}");
        }

        var missing = table.Map(classes).Missing;
        return missing.Count == 0
            ? CheckResult.Pass(Area, $"class table: the classifier produces every class of the table ({table.Describe()})")
            : CheckResult.Warn(Area, $"class table: the classifier cannot produce {string.Join(", ", missing.Select(m => $"{m.Label} ({m.Number})"))}; " +
                $"its other classes keep their numbers ({table.Describe()})");
    }
}
