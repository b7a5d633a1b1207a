using SemEdge.Web;

namespace SemEdge.Tests.Web;

/// <summary>The page's verdict journal: one appended file per day, found again by archive path.</summary>
public sealed class VerdictJournalTests : IDisposable
{
    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public void Each_verdict_is_one_line_of_its_days_file_and_is_found_by_its_archive_path()
    {
        var (journal, _) = Journal();
        for (var seq = 1; seq <= 50; seq++)
        {
            journal.Write(Page(seq, $"2026-12-0{1 + (seq % 2)}/reject/img-{seq}.png"));
        }

        // No file per image (each would cost an inode allocation on the inspection path's cores): one per day.
        Assert.Equal(["2026-12-01.jsonl", "2026-12-02.jsonl"], Directory.GetFileSystemEntries(journal.Root).Select(Path.GetFileName).Order());
        Assert.Equal(25, File.ReadAllLines(journal.DayFile("2026-12-01")).Length);
        Assert.Equal(7, journal.Find("2026-12-02/reject/img-7.png")?.Seq);
        Assert.Equal(8, journal.Find("2026-12-01/reject/img-8.png")?.Seq);
        Assert.Null(journal.Find("2026-12-01/reject/img-7.png"));

        // Appended after the day was indexed: found too.
        journal.Write(Page(51, "2026-12-01/review/late.png"));
        Assert.Equal(51, journal.Find("2026-12-01/review/late.png")?.Seq);
    }

    [Fact]
    public void A_line_cut_off_by_a_crash_is_skipped_and_the_next_start_appends_after_it()
    {
        var (before, archive) = Journal();
        before.Write(Page(1, "2026-12-01/pass/a.png"));
        before.Write(Page(2, "2026-12-01/pass/b.png"));
        var file = before.DayFile("2026-12-01");
        var whole = File.ReadAllBytes(file);
        File.WriteAllBytes(file, whole[..^40]); // the second line loses its end

        var after = new VerdictJournal(_root.Combine("web"), archive);
        after.Write(Page(3, "2026-12-01/pass/c.png"));

        Assert.Equal(1, after.Find("2026-12-01/pass/a.png")?.Seq);
        Assert.Null(after.Find("2026-12-01/pass/b.png"));
        Assert.Equal(3, after.Find("2026-12-01/pass/c.png")?.Seq);
        Assert.Equal(3, File.ReadAllLines(file).Length);
    }

    [Fact]
    public void More_days_than_it_indexes_are_still_found_and_a_journal_of_one_file_per_verdict_still_reads()
    {
        var (journal, _) = Journal();
        for (var day = 1; day <= VerdictJournal.IndexedDays + 2; day++)
        {
            journal.Write(Page(day, $"2026-11-0{day}/reject/x.png"));
        }

        for (var round = 0; round < 2; round++)
        {
            for (var day = 1; day <= VerdictJournal.IndexedDays + 2; day++)
            {
                Assert.Equal(day, journal.Find($"2026-11-0{day}/reject/x.png")?.Seq);
            }
        }

        var legacy = Path.Combine(journal.Root, "2026-10-30", "review", "old.png.json");
        Directory.CreateDirectory(Path.GetDirectoryName(legacy)!);
        File.WriteAllText(legacy, """{"seq":99,"image":"old.png","ts":"2026-10-30T00:00:00.000Z","classId":3,"label":"crack","confidence":0.5,"action":"review","model":"m","sha":"s","provider":"cpu","latencyMs":1,"path":"2026-10-30/review/old.png","screen":"off"}""");
        Assert.Equal(99, journal.Find("2026-10-30/review/old.png")?.Seq);
    }

    [Fact]
    public void Pruning_drops_the_days_the_archive_no_longer_holds_in_either_layout()
    {
        var (journal, archive) = Journal();
        Directory.CreateDirectory(Path.Combine(archive.Root, "2026-12-02"));
        journal.Write(Page(1, "2026-12-01/pass/a.png"));
        journal.Write(Page(2, "2026-12-02/pass/b.png"));
        Assert.Equal(1, journal.Find("2026-12-01/pass/a.png")?.Seq);
        Directory.CreateDirectory(Path.Combine(journal.Root, "2026-11-30", "pass"));

        journal.Prune();

        Assert.Equal(["2026-12-02.jsonl"], Directory.GetFileSystemEntries(journal.Root).Select(Path.GetFileName));
        Assert.Null(journal.Find("2026-12-01/pass/a.png"));
        Assert.Equal(2, journal.Find("2026-12-02/pass/b.png")?.Seq);
    }

    private (VerdictJournal Journal, ArchivePaths Archive) Journal()
    {
        var archive = new ArchivePaths(_root.Combine("archive"));
        return (new VerdictJournal(_root.Combine("web"), archive), archive);
    }

    private static PageVerdict Page(long seq, string path) =>
        PageVerdict.From(WebPartsTests.Verdict(seq), path, screenId: null);
}
