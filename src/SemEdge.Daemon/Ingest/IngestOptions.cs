using Microsoft.Extensions.Options;

namespace SemEdge.Ingest;

/// <summary>
/// Settings of section <c>Ingest</c>: where images arrive, where they go afterwards, and when a file counts
/// as fully written. Relative folders are resolved against the daemon's working directory.
/// </summary>
public sealed class IngestOptions
{
    public const string SectionName = "Ingest";

    /// <summary>The folder the SEM writes images into.</summary>
    public string DropFolder { get; set; } = "var/drop";

    /// <summary>Images being inspected. Must be on the same file system as the drop folder (claims are renames).</summary>
    public string ProcessingFolder { get; set; } = "var/processing";

    /// <summary>Inspected images, as <c>{yyyy-MM-dd}/{action}/NAME</c>.</summary>
    public string ArchiveFolder { get; set; } = "var/archive";

    /// <summary>Images that could not be inspected, each with <c>NAME.error.json</c>.</summary>
    public string QuarantineFolder { get; set; } = "var/quarantine";

    /// <summary>A file not renamed into the drop folder is ready once its size and mtime held this long.</summary>
    public TimeSpan StableFor { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Full listing of the drop folder this often, for events the file watcher missed.</summary>
    public TimeSpan RescanInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Files larger than this are quarantined as too large without being decoded.</summary>
    public long MaxFileBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Delete images once their verdict is durable instead of archiving them.</summary>
    public bool DeleteAfterVerdict { get; set; }

    /// <summary>Archived images older than this are removed.</summary>
    public TimeSpan ArchiveMaxAge { get; set; } = TimeSpan.FromDays(30);

    /// <summary>At most this many archived images are kept; the oldest go first.</summary>
    public int ArchiveMaxFiles { get; set; } = 100_000;

    /// <summary>The oldest archived images are removed while the archive's disk has less free space than this.</summary>
    public long ArchiveMinFreeBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>How often archive retention runs.</summary>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>Start-up checks with messages a technician can act on.</summary>
public sealed class IngestOptionsValidator : IValidateOptions<IngestOptions>
{
    public ValidateOptionsResult Validate(string? name, IngestOptions options)
    {
        var failures = new List<string>();
        var folders = new (string Key, string Value)[]
        {
            (nameof(options.DropFolder), options.DropFolder),
            (nameof(options.ProcessingFolder), options.ProcessingFolder),
            (nameof(options.ArchiveFolder), options.ArchiveFolder),
            (nameof(options.QuarantineFolder), options.QuarantineFolder),
        };
        foreach (var (key, value) in folders)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                failures.Add($"Ingest:{key} is empty; set it to a folder path.");
            }
        }

        if (failures.Count == 0)
        {
            var full = folders.Select(f => (f.Key, Path: Path.TrimEndingDirectorySeparator(Path.GetFullPath(f.Value)))).ToList();
            for (var i = 0; i < full.Count; i++)
            {
                for (var j = i + 1; j < full.Count; j++)
                {
                    if (string.Equals(full[i].Path, full[j].Path, StringComparison.Ordinal))
                    {
                        failures.Add($"Ingest:{full[i].Key} and Ingest:{full[j].Key} are the same folder ({full[i].Path}); each needs its own.");
                    }
                }
            }
        }

        if (options.StableFor < TimeSpan.Zero || options.StableFor > TimeSpan.FromMinutes(10))
        {
            failures.Add($"Ingest:StableFor is {options.StableFor}; use a time between 00:00:00 and 00:10:00.");
        }

        if (options.RescanInterval < TimeSpan.FromMilliseconds(50) || options.RescanInterval > TimeSpan.FromHours(1))
        {
            failures.Add($"Ingest:RescanInterval is {options.RescanInterval}; use a time between 00:00:00.05 and 01:00:00.");
        }

        if (options.MaxFileBytes <= 0)
        {
            failures.Add($"Ingest:MaxFileBytes is {options.MaxFileBytes}; it must be a positive number of bytes.");
        }

        if (options.ArchiveMaxAge <= TimeSpan.Zero)
        {
            failures.Add($"Ingest:ArchiveMaxAge is {options.ArchiveMaxAge}; it must be positive, e.g. 30.00:00:00 for 30 days.");
        }

        if (options.ArchiveMaxFiles <= 0)
        {
            failures.Add($"Ingest:ArchiveMaxFiles is {options.ArchiveMaxFiles}; it must be at least 1.");
        }

        if (options.ArchiveMinFreeBytes < 0)
        {
            failures.Add($"Ingest:ArchiveMinFreeBytes is {options.ArchiveMinFreeBytes}; it cannot be negative.");
        }

        if (options.RetentionInterval < TimeSpan.FromSeconds(1))
        {
            failures.Add($"Ingest:RetentionInterval is {options.RetentionInterval}; use at least 00:00:01.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
