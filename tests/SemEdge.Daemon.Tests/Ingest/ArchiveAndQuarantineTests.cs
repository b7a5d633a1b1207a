using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using SemEdge.Decision;
using SemEdge.Ingest;
using SemEdge.Tests.Platform;

namespace SemEdge.Tests.Ingest;

public sealed class ArchiveAndQuarantineTests : IDisposable
{
    private readonly TempFolder _root = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 4, 23, 59, 0, TimeSpan.Zero));

    public void Dispose() => _root.Dispose();

    private IngestOptions Options(bool delete = false) => new()
    {
        DropFolder = _root.Combine("drop"),
        ProcessingFolder = _root.Combine("processing"),
        ArchiveFolder = _root.Combine("archive"),
        QuarantineFolder = _root.Combine("quarantine"),
        DeleteAfterVerdict = delete,
        ArchiveMaxAge = TimeSpan.FromDays(2),
        ArchiveMaxFiles = 3,
        ArchiveMinFreeBytes = 100,
    };

    private string Image(string name, params byte[] bytes)
    {
        var path = _root.Combine(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Archive_files_by_utc_date_and_action_without_overwriting()
    {
        var archive = new ImageArchive(Options());
        var when = new DateTimeOffset(2026, 3, 5, 1, 0, 0, TimeSpan.FromHours(3)); // 2026-03-04 in UTC

        var first = archive.Keep(Image("a.png", 1), "a.png", VerdictAction.Reject, when);
        var second = archive.Keep(Image("a.png", 2), "a.png", VerdictAction.Reject, when);

        Assert.Equal(_root.Combine("archive", "2026-03-04", "reject", "a.png"), first);
        Assert.Equal(_root.Combine("archive", "2026-03-04", "reject", "a~1.png"), second);
        Assert.Equal([1], File.ReadAllBytes(first!));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Archived_images_are_read_only_evidence()
    {
        var kept = new ImageArchive(Options()).Keep(Image("a.png", 1), "a.png", VerdictAction.Reject, _time.GetUtcNow());

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.GroupRead, File.GetUnixFileMode(kept!));
    }

    [Fact]
    public void Delete_mode_removes_the_image_instead()
    {
        var image = Image("a.png", 1);
        Assert.Null(new ImageArchive(Options(delete: true)).Keep(image, "a.png", VerdictAction.Pass, _time.GetUtcNow()));
        Assert.False(File.Exists(image));
        Assert.False(Directory.Exists(_root.Combine("archive")));
    }

    [Fact]
    public void Quarantine_writes_the_reason_beside_the_image_and_keeps_both_of_a_name()
    {
        var quarantine = new Quarantine(Options(), _time);
        quarantine.Prepare();

        var first = quarantine.Put(Image("x.png", 1), "x.png", QuarantineReason.Truncated, "ends at byte 1");
        var second = quarantine.Put(Image("x.png", 2), "x.png", QuarantineReason.Empty, "zero bytes");

        Assert.Equal(_root.Combine("quarantine", "x~1.png"), second);
        using var report = JsonDocument.Parse(File.ReadAllText(first + ".error.json"));
        Assert.Equal("truncated", report.RootElement.GetProperty("reason").GetString());
        Assert.Equal("x.png", report.RootElement.GetProperty("image").GetString());
        Assert.Equal("ends at byte 1", report.RootElement.GetProperty("detail").GetString());
        Assert.Contains("\"empty\"", File.ReadAllText(second + ".error.json"));
    }

    [Fact]
    public void Quarantine_never_puts_a_report_over_a_quarantined_file_named_like_a_report()
    {
        // Issue 18 item 7: junk "a.png.error.json" first, then junk "a.png": a.png's report went over the first.
        var quarantine = new Quarantine(Options(), _time);
        quarantine.Prepare();

        var first = quarantine.Put(Image("a.png.error.json", 1, 1, 1), "a.png.error.json", QuarantineReason.Corrupt, "first");
        var second = quarantine.Put(Image("a.png", 2), "a.png", QuarantineReason.Corrupt, "second");

        Assert.Equal([1, 1, 1], File.ReadAllBytes(first));
        Assert.Contains("\"first\"", File.ReadAllText(first + ".error.json"));
        Assert.NotEqual(first, second + ".error.json");
        Assert.Equal([2], File.ReadAllBytes(second));
        Assert.Contains("\"second\"", File.ReadAllText(second + ".error.json"));
        Assert.Equal(4, Directory.GetFiles(quarantine.Folder).Length);
    }

    [Fact]
    public void Quarantine_moves_a_symlink_itself_and_leaves_its_target_alone()
    {
        var target = Image("target.png", 7);
        var link = _root.Combine("link.png");
        File.CreateSymbolicLink(link, target);
        var quarantine = new Quarantine(Options(), _time);
        quarantine.Prepare();

        var kept = quarantine.Put(link, "link.png", QuarantineReason.EscapedPath, "outside");

        Assert.Equal(target, new FileInfo(kept).LinkTarget);
        Assert.Equal([7], File.ReadAllBytes(target));
    }

    [Fact]
    public void Retention_removes_by_age_then_count_then_free_space_oldest_first()
    {
        var options = Options();
        var archive = new ImageArchive(options);
        var folder = Path.Combine(archive.Folder, "d", "pass");
        Directory.CreateDirectory(folder);
        var now = _time.GetUtcNow().UtcDateTime;
        var ages = new[] { 72.0, 30, 20, 10, 5, 1 }; // hours
        for (var i = 0; i < ages.Length; i++)
        {
            var path = Path.Combine(folder, $"{i}.png");
            File.WriteAllBytes(path, [1]);
            File.SetLastWriteTimeUtc(path, now.AddHours(-ages[i]));
        }

        var free = 50L;
        var retention = new ArchiveRetention(options, archive, _time, NullLogger<ArchiveRetention>.Instance)
        {
            FreeBytes = () => free,
        };
        var removedFirst = retention.Prune();
        // Age removes 0.png (72 h); count keeps 3 of the remaining 5, removing 1 and 2; space: 50 < 100, removes the rest.
        Assert.Equal(6, removedFirst);
        Assert.False(Directory.Exists(folder));

        Directory.CreateDirectory(folder);
        foreach (var i in new[] { 1, 2 })
        {
            var path = Path.Combine(folder, $"{i}.png");
            File.WriteAllBytes(path, [1]);
            File.SetLastWriteTimeUtc(path, now.AddHours(-i));
        }

        free = 1000;
        Assert.Equal(0, retention.Prune());
        Assert.Equal(2, Directory.GetFiles(folder).Length);
    }

    [Fact]
    public void Retention_stops_once_enough_space_is_free()
    {
        var options = Options();
        var archive = new ImageArchive(options);
        var folder = Path.Combine(archive.Folder, "d", "pass");
        Directory.CreateDirectory(folder);
        for (var i = 0; i < 3; i++)
        {
            var path = Path.Combine(folder, $"{i}.png");
            File.WriteAllBytes(path, [1]);
            File.SetLastWriteTimeUtc(path, _time.GetUtcNow().UtcDateTime.AddMinutes(-10 + i));
        }

        var free = 60L;
        var retention = new ArchiveRetention(options, archive, _time, NullLogger<ArchiveRetention>.Instance)
        {
            FreeBytes = () => free += 30, // each look after a deletion sees 30 more bytes free
        };

        Assert.Equal(1, retention.Prune());
        Assert.Equal(["1.png", "2.png"], Directory.GetFiles(folder).Select(Path.GetFileName).Order());
    }
}
