using System.Security.Cryptography;
using System.Text;
using SemEdge.Inference;

namespace SemEdge.Pipeline;

/// <summary>
/// Picks the manifests to run from the models folder: the configured classifier (and screen) manifest, unless the
/// same folder holds a manifest of the same model id and kind with a higher version, which then wins. A
/// fingerprint of everything that choice depends on tells the hot swap when to look again.
/// </summary>
/// <param name="configuredClassifier">The classifier manifest; null means the shipped one (found when first needed).</param>
/// <param name="screenManifest">The screen manifest, or null for no cascade.</param>
public sealed class ModelFolder(string? configuredClassifier, string? screenManifest)
{
    /// <exception cref="FileNotFoundException">No classifier was configured and none ships with the application.</exception>
    public ModelSelection Choose() => new(
        Newest(ClassifierManifest),
        screenManifest is null ? null : Newest(screenManifest));

    private string ClassifierManifest => configuredClassifier ?? ShippedModels.Resolve(ShippedModels.ClassifierFile);

    /// <summary>
    /// Changes when any manifest in the models folders, or any model file they name, is added, removed or rewritten.
    /// </summary>
    public string Fingerprint()
    {
        var text = new StringBuilder();
        string? classifier;
        try
        {
            classifier = ClassifierManifest;
        }
        catch (FileNotFoundException)
        {
            classifier = null;
        }

        foreach (var folder in new[] { classifier, screenManifest }.OfType<string>().Select(FolderOf).Distinct(StringComparer.Ordinal))
        {
            if (!Directory.Exists(folder))
            {
                continue;
            }

            foreach (var file in Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal))
            {
                var info = new FileInfo(file);
                text.Append(info.Name).Append('|').Append(info.Length).Append('|').Append(info.LastWriteTimeUtc.Ticks).Append('\n');
            }
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>
    /// Names what a selection would load: the manifests' paths and bytes (a manifest carries its model's sha256,
    /// so a changed model means a changed manifest). Equal identities need no swap.
    /// </summary>
    public static string Identity(ModelSelection selection)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var manifest in new[] { selection.ClassifierManifest, selection.ScreenManifest })
        {
            hash.AppendData(Encoding.UTF8.GetBytes((manifest ?? "-") + "\n"));
            if (manifest is not null && File.Exists(manifest))
            {
                hash.AppendData(File.ReadAllBytes(manifest));
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static string Newest(string configured)
    {
        ModelManifest baseline;
        try
        {
            baseline = ModelManifest.Load(configured);
        }
        catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException or InvalidDataException or UnauthorizedAccessException)
        {
            return configured; // the loader reports what is wrong with it
        }

        var best = (Path: Path.GetFullPath(configured), baseline.Version);
        foreach (var candidate in Directory.EnumerateFiles(FolderOf(configured), "*.json").Order(StringComparer.Ordinal))
        {
            if (string.Equals(Path.GetFullPath(candidate), best.Path, StringComparison.Ordinal) && best.Version == baseline.Version)
            {
                continue;
            }

            try
            {
                var manifest = ModelManifest.Load(candidate);
                if (manifest.Id == baseline.Id && manifest.Kind == baseline.Kind && CompareVersions(manifest.Version, best.Version) > 0)
                {
                    best = (Path.GetFullPath(candidate), manifest.Version);
                }
            }
            catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException or InvalidDataException or UnauthorizedAccessException or NotSupportedException)
            {
                // Not a manifest (or half written): not a candidate.
            }
        }

        return best.Path;
    }

    /// <summary>Dotted numeric versions compare by number (1.10 &gt; 1.9); anything else falls back to ordinal.</summary>
    public static int CompareVersions(string a, string b)
    {
        var left = a.Split('.');
        var right = b.Split('.');
        if (left.All(IsNumber) && right.All(IsNumber))
        {
            for (var i = 0; i < Math.Max(left.Length, right.Length); i++)
            {
                var l = i < left.Length ? long.Parse(left[i], System.Globalization.CultureInfo.InvariantCulture) : 0;
                var r = i < right.Length ? long.Parse(right[i], System.Globalization.CultureInfo.InvariantCulture) : 0;
                if (l != r)
                {
                    return l.CompareTo(r);
                }
            }

            return 0;
        }

        return string.CompareOrdinal(a, b);
    }

    private static bool IsNumber(string part) => part.Length is > 0 and < 18 && part.All(char.IsAsciiDigit);

    private static string FolderOf(string manifest) => Path.GetDirectoryName(Path.GetFullPath(manifest))!;
}
