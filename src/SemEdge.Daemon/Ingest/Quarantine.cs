using System.Text.Json;
using System.Text.Json.Serialization;

namespace SemEdge.Ingest;

/// <summary>
/// Where refused images go, each beside <c>NAME.error.json</c> saying why, so a technician can look at the file
/// and the reason together. Never overwrites an earlier file of the same name.
/// </summary>
public sealed class Quarantine(IngestOptions options, TimeProvider time)
{
    public const string ReportSuffix = ".error.json";

    public string Folder { get; } = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.QuarantineFolder));

    public void Prepare() => Directory.CreateDirectory(Folder);

    /// <returns>The quarantined file's path.</returns>
    public string Put(string path, string originalName, string reason, string detail)
    {
        // A name is only taken when both it and its report name are free: a dropped "a.png.error.json" is an
        // image like any other here, and a later "a.png" must not put its report on top of it.
        var kept = CollisionFreeMove.Move(path, Folder, originalName, ReportSuffix);
        var report = new QuarantineReport(originalName, reason, detail, time.GetUtcNow());
        var temporary = Path.Combine(Folder, $".report-{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temporary, JsonSerializer.Serialize(report, QuarantineJsonContext.Default.QuarantineReport) + "\n");
        // Never over an existing file: if the report name was taken since the image moved, it gets a ~N suffix.
        CollisionFreeMove.Move(temporary, Folder, Path.GetFileName(kept) + ReportSuffix);
        return kept;
    }
}

/// <summary>The content of <c>NAME.error.json</c>.</summary>
public sealed record QuarantineReport(string Image, string Reason, string Detail, DateTimeOffset Time);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(QuarantineReport))]
internal sealed partial class QuarantineJsonContext : JsonSerializerContext;
