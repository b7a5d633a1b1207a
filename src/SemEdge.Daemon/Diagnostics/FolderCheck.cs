namespace SemEdge.Diagnostics;

/// <summary>The daemon's folders exist, this user can write them, and their disks have room.</summary>
public static class FolderCheck
{
    public const string Area = "folders";
    private const long MinFreeBytes = 64L * 1024 * 1024;

    public static IReadOnlyList<CheckResult> Run(DoctorContext context)
    {
        var results = new List<CheckResult>();
        var warnBelow = context.Ingest.Value?.ArchiveMinFreeBytes ?? 0;
        var folders = new List<(string Key, string Path)>();
        if (context.Ingest.Value is { } ingest)
        {
            folders.Add(("Ingest:DropFolder", ingest.DropFolder));
            folders.Add(("Ingest:ProcessingFolder", ingest.ProcessingFolder));
            folders.Add(("Ingest:ArchiveFolder", ingest.ArchiveFolder));
            folders.Add(("Ingest:QuarantineFolder", ingest.QuarantineFolder));
        }
        else
        {
            results.Add(CheckResult.Fail(Area, "Ingest folders not checked: the Ingest section is invalid (see config)"));
        }

        if (context.Outbox.Value is { } outbox)
        {
            folders.Add(("Outbox:Path", outbox.Path));
        }

        foreach (var (key, path) in folders)
        {
            results.Add(Check(key, Path.GetFullPath(path), warnBelow));
        }

        return results;
    }

    /// <summary>Null when this user can create and delete a file in <paramref name="path"/>; otherwise why not.</summary>
    internal static string? NotWritableReason(string path)
    {
        var probe = Path.Combine(path, $".semedge-doctor-{Environment.ProcessId}");
        try
        {
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return null;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            return ex.Message;
        }
    }

    internal static CheckResult Check(string key, string path, long warnBelowBytes)
    {
        if (!Directory.Exists(path))
        {
            return CheckResult.Fail(Area, $"{key} {path} does not exist (systemd-tmpfiles --create makes the standard ones)");
        }

        if (NotWritableReason(path) is { } reason)
        {
            return CheckResult.Fail(Area, $"{key} {path} is not writable by this user: {reason}");
        }

        var free = new DriveInfo(path).AvailableFreeSpace;
        var freeText = $"{free / (1024.0 * 1024):0} MiB free";
        if (free < MinFreeBytes)
        {
            return CheckResult.Fail(Area, $"{key} {path}: only {freeText}; the daemon needs room for images and the outbox");
        }

        return free < warnBelowBytes
            ? CheckResult.Warn(Area, $"{key} {path}: writable, {freeText} (below Ingest:ArchiveMinFreeBytes; retention is deleting archived images)")
            : CheckResult.Pass(Area, $"{key} {path}: writable, {freeText}");
    }
}
