using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using SemEdge.Decision;
using SemEdge.Web;

namespace SemEdge.Tests.Web;

/// <summary>The page's parts on their own: the feed's never-waiting hook, the dataset's split and CSV, the path rules.</summary>
public sealed class WebPartsTests : IDisposable
{
    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public void The_pipeline_hook_never_waits_when_the_page_reads_nothing_it_drops_the_oldest_and_counts_them()
    {
        var archive = new ArchivePaths(_root.Combine("archive"));
        var feed = new VerdictFeed(16, archive, new VerdictJournal(_root.Combine("web"), archive), new HourlyStats(TimeProvider.System), () => null, NullLogger<VerdictFeed>.Instance);

        // Nobody reads the feed (the page's loop is not running): each call must still return at once.
        for (var i = 1; i <= 1000; i++)
        {
            feed.OnVerdict(Verdict(i), archivedPath: null);
        }

        Assert.Equal(1000 - 16, feed.Dropped);
    }

    [Fact]
    public void Live_subscribers_get_each_verdict_and_the_recent_list_keeps_the_newest()
    {
        var archive = new ArchivePaths(_root.Combine("archive"));
        var feed = new VerdictFeed(16, archive, new VerdictJournal(_root.Combine("web"), archive), new HourlyStats(TimeProvider.System), () => "screen-1", NullLogger<VerdictFeed>.Instance);
        using var subscription = feed.Subscribe();
        for (var i = 1; i <= VerdictFeed.RecentCount + 5; i++)
        {
            feed.Publish(Verdict(i), archived: null);
        }

        Assert.Equal(VerdictFeed.RecentCount, feed.Recent().Count);
        Assert.Equal(VerdictFeed.RecentCount + 5, feed.Recent()[0].Seq);
        Assert.True(subscription.Reader.TryRead(out var first));
        Assert.Equal(1, first.Seq);
        Assert.Equal("defect", first.Screen); // decided by the classifier, not the screen
    }

    [Fact]
    public void The_train_or_val_split_is_a_fixed_function_of_the_file_name()
    {
        var names = Enumerable.Range(0, 2000).Select(i => $"wafer-{i:D5}.png").ToList();
        var splits = names.Select(n => LabelledDataset.SplitOf(n, 20)).ToList();
        Assert.Equal(splits, names.Select(n => LabelledDataset.SplitOf(n, 20)));
        var val = splits.Count(s => s == "val") / (double)names.Count;
        Assert.InRange(val, 0.17, 0.23);
        Assert.All(names, n => Assert.Equal("train", LabelledDataset.SplitOf(n, 0)));
    }

    [Fact]
    public async Task Relabelling_moves_the_copy_to_the_new_class_and_the_csv_quotes_what_needs_quoting()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero));
        var dataset = new LabelledDataset(_root.Combine("dataset"), 20, time);
        var source = _root.Combine("a,\"b\".png");
        await File.WriteAllBytesAsync(source, [1, 2, 3]);
        var model = new PageVerdict(7, "a,\"b\".png", "2026-12-01T09:59:00.000Z", 3, "crack", 0.41, "review", "=cmd", "abc", "cpu", 2, "2026-12-01/review/a,\"b\".png", "off");

        var first = await dataset.LabelAsync(source, model.Path!, "crack", new WebCaller("alice", WebRole.Label), model, CancellationToken.None);
        var second = await dataset.LabelAsync(source, model.Path!, "ler", new WebCaller("bob", WebRole.Label), model, CancellationToken.None);

        Assert.Equal(first.Split, second.Split);
        Assert.False(File.Exists(Path.Combine(dataset.Root, first.File)));
        Assert.Equal([1, 2, 3], await File.ReadAllBytesAsync(Path.Combine(dataset.Root, second.File)));
        var lines = await File.ReadAllLinesAsync(dataset.Csv);
        Assert.Equal(3, lines.Length);
        var row = LabelledDataset.ParseRow(lines[2]);
        Assert.Equal(11, row.Count);
        Assert.Equal([$"{second.Split}/ler/a,\"b\".png", "ler", "bob", "2026-12-01T10:00:00.000Z", "crack", "0.4100", "review", "'=cmd"], [row[0], row[2], row[3], row[4], row[5], row[6], row[7], row[8]]);
        Assert.Equal("ler", dataset.LabelsBySource()[model.Path!]);
    }

    [Theory]
    [InlineData("2026-12-01/pass/x.png", true)]
    [InlineData("2026-12-01/pass/../pass/x.png", false)]
    [InlineData("2026-12-01/other/x.png", false)]
    [InlineData("2026-13-01/pass/x.png", false)]
    [InlineData("../2026-12-01/pass/x.png", false)]
    [InlineData("2026-12-01/pass/x.png/", false)]
    [InlineData("/2026-12-01/pass/x.png", false)]
    [InlineData("2026-12-01\\pass\\x.png", false)]
    public void Only_day_action_name_inside_the_archive_resolves(string relative, bool resolves)
    {
        var archive = new ArchivePaths(_root.Combine("archive"));
        Directory.CreateDirectory(_root.Combine("archive", "2026-12-01", "pass"));
        File.WriteAllBytes(_root.Combine("archive", "2026-12-01", "pass", "x.png"), [0]);
        Assert.Equal(resolves, archive.TryResolve(relative, out _));
    }

    /// <summary>A durable verdict of image <c>img-SEQ.png</c>, decided SEQ seconds after the epoch.</summary>
    internal static Verdict Verdict(long seq) => new()
    {
        Seq = seq,
        Image = $"img-{seq}.png",
        Timestamp = DateTimeOffset.UnixEpoch.AddSeconds(seq),
        ClassId = 1,
        Label = "bridge",
        Confidence = 0.9f,
        Action = VerdictAction.Reject,
        ModelId = "classifier-1",
        ModelSha = "abc",
        Provider = "cpu",
        LatencyMs = 3,
    };
}
