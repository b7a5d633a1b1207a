using Microsoft.Extensions.Time.Testing;
using SemEdge.Ingest;
using SemEdge.Tests.Platform;
using Process = SemEdge.Tests.Ingest.ToolProcess;

namespace SemEdge.Tests.Ingest;

public sealed class DropFolderTests : IDisposable
{
    private readonly TempFolder _root = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero));
    private readonly IngestOptions _options;
    private readonly DropFolder _folder;

    public DropFolderTests()
    {
        _options = new IngestOptions
        {
            DropFolder = _root.Combine("drop"),
            ProcessingFolder = _root.Combine("processing"),
            ArchiveFolder = _root.Combine("archive"),
            QuarantineFolder = _root.Combine("quarantine"),
            MaxFileBytes = 1000,
        };
        _folder = new DropFolder(_options, _time);
        _folder.Prepare();
    }

    public void Dispose() => _root.Dispose();

    [Fact]
    public void Temporary_and_hidden_names_are_not_listed()
    {
        foreach (var name in new[] { "a.png.tmp", "b.part", ".c.png", "d.png~", "ok.png" })
        {
            File.WriteAllBytes(Path.Combine(_folder.Drop, name), [1]);
        }

        var listing = _folder.List();
        Assert.Equal(["ok.png"], listing.Candidates.Select(c => c.Name));
        Assert.Empty(listing.Refused);
    }

    [Fact]
    public void Symlink_out_of_the_folder_is_refused_as_escaped_path()
    {
        var outside = _root.Combine("secret.png");
        File.WriteAllBytes(outside, [1, 2, 3]);
        File.CreateSymbolicLink(Path.Combine(_folder.Drop, "evil.png"), outside);

        var listing = _folder.List();
        Assert.Empty(listing.Candidates);
        var refused = Assert.Single(listing.Refused);
        Assert.Equal(("evil.png", QuarantineReason.EscapedPath), (refused.Name, refused.RefusedReason));
    }

    [Fact]
    public void Symlink_inside_the_folder_is_refused_as_symlink()
    {
        File.WriteAllBytes(Path.Combine(_folder.Drop, ".hidden.png"), [1]);
        File.CreateSymbolicLink(Path.Combine(_folder.Drop, "alias.png"), Path.Combine(_folder.Drop, ".hidden.png"));

        var refused = Assert.Single(_folder.List().Refused);
        Assert.Equal(QuarantineReason.Symlink, refused.RefusedReason);
    }

    [Fact]
    public void Claim_renames_into_processing_and_stamps_the_claim_time()
    {
        File.WriteAllBytes(Path.Combine(_folder.Drop, "a.png"), [1, 2, 3]);

        var claim = _folder.Claim("a.png");

        Assert.NotNull(claim);
        Assert.Null(claim.RefusedReason);
        Assert.Equal(Path.Combine(_folder.Processing, "a.png"), claim.Path);
        Assert.False(File.Exists(Path.Combine(_folder.Drop, "a.png")));
        Assert.Equal(_time.GetUtcNow().UtcDateTime, File.GetLastWriteTimeUtc(claim.Path));
    }

    [Fact]
    public void A_fifo_is_refused_as_not_a_regular_file_without_being_opened()
    {
        var fifo = Path.Combine(_folder.Drop, "f.png");
        Assert.Equal(0, Process.Run("mkfifo", fifo));

        var refused = Assert.Single(_folder.List().Refused);
        Assert.Equal(("f.png", QuarantineReason.NotARegularFile), (refused.Name, refused.RefusedReason));
        Assert.Empty(_folder.List().Candidates);
        Assert.Equal(QuarantineReason.NotARegularFile, _folder.Claim("f.png")!.RefusedReason);
    }

    [Fact]
    public void A_file_of_another_user_is_taken_over_into_a_daemon_owned_copy()
    {
        // Issue 18 item 2 (unit level; the test with a real second user and a non-root daemon is in EndToEnd).
        // Only root can give a file away, and only a daemon that does not own the file has to take it over.
        if (FileStatus.ProcessOwnerId != 0)
        {
            return;
        }

        var original = Path.Combine(_folder.Drop, "sem.png");
        File.WriteAllBytes(original, [1, 2, 3]);
        var outsideLink = _root.Combine("outside-link.png");
        Assert.Equal(0, Process.Run("ln", original, outsideLink));
        Assert.Equal(0, Process.Run("chown", "65534:65534", original));

        var claim = _folder.Claim("sem.png");

        Assert.Null(claim!.RefusedReason);
        var status = FileStatus.Of(claim.Path);
        Assert.Equal(0u, status.OwnerId);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(claim.Path));
        Assert.Equal(_time.GetUtcNow().UtcDateTime, File.GetLastWriteTimeUtc(claim.Path));
        File.AppendAllText(outsideLink, "tampered");
        Assert.Equal([1, 2, 3], File.ReadAllBytes(claim.Path));
        Assert.Empty(Directory.GetFiles(_folder.Processing, ".take-*"));
    }

    [Fact]
    public void Claim_of_a_vanished_file_returns_null()
    {
        Assert.Null(_folder.Claim("gone.png"));
    }

    [Fact]
    public void Claim_never_overwrites_an_image_of_the_same_name_still_in_processing()
    {
        File.WriteAllBytes(Path.Combine(_folder.Processing, "a.png"), [9]);
        File.WriteAllBytes(Path.Combine(_folder.Drop, "a.png"), [1]);

        var claim = _folder.Claim("a.png");

        Assert.Equal(Path.Combine(_folder.Processing, "a~1.png"), claim!.Path);
        Assert.Equal([9], File.ReadAllBytes(Path.Combine(_folder.Processing, "a.png")));
    }

    [Fact]
    public void Zero_byte_and_oversized_files_are_refused_at_claim()
    {
        File.WriteAllBytes(Path.Combine(_folder.Drop, "empty.png"), []);
        File.WriteAllBytes(Path.Combine(_folder.Drop, "huge.png"), new byte[1001]);

        Assert.Equal(QuarantineReason.Empty, _folder.Claim("empty.png")!.RefusedReason);
        Assert.Equal(QuarantineReason.TooLarge, _folder.Claim("huge.png")!.RefusedReason);
    }

    [Fact]
    public void Name_with_folder_parts_is_refused_as_escaped_path()
    {
        Assert.Equal(QuarantineReason.EscapedPath, _folder.Claim("../processing/x.png")!.RefusedReason);
    }

    [Fact]
    public void Leftovers_come_back_oldest_claim_first()
    {
        foreach (var (name, minute) in new[] { ("late.png", 5), ("early.png", 1) })
        {
            var path = Path.Combine(_folder.Processing, name);
            File.WriteAllBytes(path, [1]);
            File.SetLastWriteTimeUtc(path, new DateTime(2026, 1, 1, 0, minute, 0, DateTimeKind.Utc));
        }

        Assert.Equal(["early.png", "late.png"], _folder.Leftovers().Select(l => l.Name));
    }

    [Fact]
    public void Start_up_refuses_folders_that_are_the_same()
    {
        var bad = new IngestOptions { DropFolder = "x", ProcessingFolder = "x/", ArchiveFolder = "a", QuarantineFolder = "q" };
        var result = new IngestOptionsValidator().Validate(null, bad);
        Assert.True(result.Failed);
        Assert.Contains("Ingest:DropFolder and Ingest:ProcessingFolder are the same folder", result.FailureMessage);
    }
}

internal static class ToolProcess
{
    public static int Run(string tool, params string[] arguments)
    {
        using var process = System.Diagnostics.Process.Start(tool, arguments);
        process.WaitForExit();
        return process.ExitCode;
    }
}
