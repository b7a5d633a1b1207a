using System.Text.Json;
using System.Text.Json.Serialization;

namespace SemEdge.Ingest;

/// <summary>
/// Where refused images go, each beside <c>NAME.error.json</c> saying why, so a technician can look at the file
/// and the reason together. Never overwrites an earlier file of the same name.
/// </summary>
public sealed class Quarantine(IngestOptions options, TimeProvider time)
{
    public string Folder { get; } = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.QuarantineFolder));

    public void Prepare() => Directory.CreateDirectory(Folder);

    /// <returns>The quarantined file's path.</returns>
    public string Put(string path, string originalName, string reason, string detail)
    {
        var kept = CollisionFreeMove.Move(path, Folder, originalName);
        var report = new QuarantineReport(originalName, reason, detail, time.GetUtcNow());
        var reportPath = kept + ".error.json";
        var temporary = reportPath + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(report, QuarantineJsonContext.Default.QuarantineReport) + "\n");
        File.Move(temporary, reportPath, overwrite: true);
        return kept;
    }
}

/// <summary>The content of <c>NAME.error.json</c>.</summary>
public sealed record QuarantineReport(string Image, string Reason, string Detail, DateTimeOffset Time);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(QuarantineReport))]
internal sealed partial class QuarantineJsonContext : JsonSerializerContext;
