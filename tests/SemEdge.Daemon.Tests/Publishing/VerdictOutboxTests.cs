using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using SemEdge.Decision;
using SemEdge.Publishing;

namespace SemEdge.Tests.Publishing;

public sealed class VerdictOutboxTests : IDisposable
{
    private readonly TempFolder _dir = new();
    private readonly FakeLogger<VerdictOutbox> _log = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Append_assigns_seq_that_keeps_rising_across_reopen()
    {
        using (var outbox = Open())
        {
            Assert.Equal(1, (await outbox.AppendAsync(Verdicts.Make("a.tif"), default)).Seq);
            Assert.Equal(2, (await outbox.AppendAsync(Verdicts.Make("b.tif"), default)).Seq);
        }

        using (var reopened = Open())
        {
            Assert.Equal(2, reopened.LastSeq);
            Assert.Equal(3, (await reopened.AppendAsync(Verdicts.Make("c.tif"), default)).Seq);
        }
    }

    [Fact]
    public async Task Reopen_returns_unsent_entries_in_order_with_all_fields()
    {
        var original = Verdicts.Make("wafer 7 ü.tif");
        using (var outbox = Open())
        {
            foreach (var name in new[] { "1.tif", "2.tif", "3.tif" })
            {
                await outbox.AppendAsync(Verdicts.Make(name), default);
            }

            await outbox.MarkSentAsync(1, default);
            await outbox.AppendAsync(original, default);
        }

        using var reopened = Open();
        Assert.Equal(["2.tif", "3.tif", "wafer 7 ü.tif"], Drain(reopened).Select(v => v.Image));
        Assert.True(reopened.TryFindByImage("wafer 7 ü.tif", out var found));
        Assert.Equal(original with { Seq = 4 }, found);
    }

    [Fact]
    public async Task Torn_last_line_is_ignored_with_a_log_line_and_fsynced_entries_survive()
    {
        using (var outbox = Open())
        {
            for (var i = 1; i <= 3; i++)
            {
                await outbox.AppendAsync(Verdicts.Make($"{i}.tif"), default);
            }
        }

        // What SIGKILL during a write leaves: the first half of a line, no newline.
        var log = _dir.Combine(VerdictOutbox.LogFileName);
        var lines = File.ReadAllLines(log);
        File.AppendAllText(log, lines[^1][..(lines[^1].Length / 2)].Replace("3.tif", "4.tif", StringComparison.Ordinal));

        using (var reopened = Open())
        {
            Assert.Equal(["1.tif", "2.tif", "3.tif"], Drain(reopened).Select(v => v.Image));
            Assert.True(_log.Contains(LogLevel.Warning, "torn last line"));
            Assert.Equal(4, (await reopened.AppendAsync(Verdicts.Make("5.tif"), default)).Seq);
        }

        // The new line did not glue onto the torn fragment.
        using var again = Open();
        Assert.Equal([1L, 2, 3, 4], Drain(again).Select(v => v.Seq));
    }

    [Fact]
    public async Task A_crash_at_any_byte_of_the_log_keeps_every_complete_entry_and_ack()
    {
        // Every write is one append, so "SIGKILL at any point" leaves some prefix of the final file.
        // Replay prefixes (every line boundary and its neighbours, and a stride through every line; each open
        // fsyncs, so not all ~1500): each must open, keep exactly the complete records, and accept new ones.
        using (var outbox = Open())
        {
            await outbox.AppendAsync(Verdicts.Make("1.tif"), default);
            await outbox.AppendAsync(Verdicts.Make("2.tif"), default);
            await outbox.MarkSentAsync(1, default);
            await outbox.AppendAsync(Verdicts.Make("3.tif"), default);
            await outbox.MarkSentAsync(2, default);
        }

        var full = File.ReadAllBytes(_dir.Combine(VerdictOutbox.LogFileName));
        var lineEnds = full.Select((b, i) => (b, i)).Where(t => t.b == (byte)'\n').Select(t => t.i + 1).ToList();
        Assert.Equal(6, lineEnds.Count); // header, V1, V2, A1, V3, A2
        using var crash = new TempFolder();
        var crashedLog = Path.Combine(crash.Path, VerdictOutbox.LogFileName);
        var lengths = lineEnds.SelectMany(end => new[] { end - 1, end, end + 1 })
            .Concat(Enumerable.Range(lineEnds[0], full.Length - lineEnds[0]).Where(l => l % 23 == 0))
            .Where(l => l >= lineEnds[0] && l <= full.Length)
            .Distinct()
            .Order();
        foreach (var length in lengths)
        {
            File.WriteAllBytes(crashedLog, full[..length]);
            var complete = lineEnds.Count(end => end <= length);
            var (pending, lastSeq) = complete switch
            {
                1 => (Array.Empty<long>(), 0L),
                2 => ([1L], 1L),
                3 => ([1L, 2], 2L),
                4 => ([2L], 2L),
                5 => ([2L, 3], 3L),
                _ => ([3L], 3L),
            };
            using var outbox = new VerdictOutbox(Options.Create(new OutboxOptions { Path = crash.Path }), _log);
            Assert.Equal(pending, outbox.PendingSnapshot().Select(v => v.Seq));
            Assert.Equal(lastSeq, outbox.LastSeq);
            Assert.Equal(lastSeq + 1, (await outbox.AppendAsync(Verdicts.Make("next.tif"), default)).Seq);
        }
    }

    [Fact]
    public async Task Last_line_with_a_bad_checksum_is_treated_as_torn()
    {
        using (var outbox = Open())
        {
            await outbox.AppendAsync(Verdicts.Make("keep.tif"), default);
            await outbox.AppendAsync(Verdicts.Make("flip.tif"), default);
        }

        var log = _dir.Combine(VerdictOutbox.LogFileName);
        var bytes = File.ReadAllBytes(log);
        var at = Encoding.ASCII.GetString(bytes).LastIndexOf("flip", StringComparison.Ordinal);
        bytes[at] = (byte)'F';
        File.WriteAllBytes(log, bytes);

        using var reopened = Open();
        Assert.Equal(["keep.tif"], Drain(reopened).Select(v => v.Image));
        Assert.True(_log.Contains(LogLevel.Warning, "torn last line"));
    }

    [Fact]
    public async Task Compaction_drops_sent_entries_and_keeps_order_and_seq()
    {
        long sizeBefore;
        using (var outbox = Open())
        {
            for (var i = 1; i <= 10; i++)
            {
                await outbox.AppendAsync(Verdicts.Make($"{i}.tif"), default);
            }

            await outbox.MarkSentAsync(4, default);
            sizeBefore = outbox.SizeBytes;
            await outbox.CompactAsync(default);
            Assert.True(outbox.SizeBytes < sizeBefore, $"compaction did not shrink the log ({outbox.SizeBytes} >= {sizeBefore})");
            Assert.False(outbox.TryFindByImage("4.tif", out _));
            Assert.True(outbox.TryFindByImage("5.tif", out _));
        }

        using (var reopened = Open())
        {
            Assert.Equal([5L, 6, 7, 8, 9, 10], Drain(reopened).Select(v => v.Seq));
            await reopened.MarkSentAsync(10, default);
            await reopened.CompactAsync(default);
        }

        // Everything sent and compacted away: the seq must still continue, not restart at 1.
        using var empty = Open();
        Assert.Equal(0, empty.PendingCount);
        Assert.Equal(11, (await empty.AppendAsync(Verdicts.Make("11.tif"), default)).Seq);
    }

    [Fact]
    public async Task Sent_entries_compact_automatically_after_the_configured_count()
    {
        using var outbox = Open(o => o.CompactAfterSent = 5);
        for (var i = 1; i <= 5; i++)
        {
            await outbox.AppendAsync(Verdicts.Make($"{i}.tif"), default);
        }

        await outbox.MarkSentAsync(4, default);
        Assert.True(outbox.TryFindByImage("1.tif", out _), "sent entries stay findable until compaction");
        await outbox.MarkSentAsync(5, default);
        Assert.False(outbox.TryFindByImage("1.tif", out _));
        Assert.Single(File.ReadAllLines(_dir.Combine(VerdictOutbox.LogFileName)));
    }

    [Fact]
    public async Task Full_outbox_refuses_verdicts_until_the_broker_takes_some()
    {
        using var outbox = Open(o => o.MaxEntries = 3);
        for (var i = 1; i <= 3; i++)
        {
            await outbox.AppendAsync(Verdicts.Make($"{i}.tif"), default);
        }

        await Assert.ThrowsAsync<OutboxFullException>(() => outbox.AppendAsync(Verdicts.Make("4.tif"), default));
        Assert.False(outbox.IsAccepting);
        var room = outbox.WaitUntilAcceptingAsync(default);
        Assert.False(room.IsCompleted);

        await outbox.MarkSentAsync(1, default);
        await room.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(4, (await outbox.AppendAsync(Verdicts.Make("4.tif"), default)).Seq);
        Assert.Equal(["2.tif", "3.tif", "4.tif"], Drain(outbox).Select(v => v.Image));
    }

    [Fact]
    public async Task Byte_bound_refuses_verdicts_and_nothing_written_is_lost()
    {
        using var outbox = Open(o => o.MaxBytes = OutboxOptionsValidator.MinBytes);
        var accepted = 0;
        while (true)
        {
            try
            {
                await outbox.AppendAsync(Verdicts.Make($"{accepted + 1}.tif"), default);
                accepted++;
            }
            catch (OutboxFullException ex)
            {
                Assert.Contains("Outbox:MaxBytes", ex.Message, StringComparison.Ordinal);
                break;
            }
        }

        Assert.InRange(outbox.SizeBytes, 1, OutboxOptionsValidator.MinBytes);
        Assert.Equal(accepted, outbox.PendingCount);
        await outbox.MarkSentAsync(accepted / 2, default);
        await outbox.CompactAsync(default);
        Assert.True(outbox.IsAccepting);
        Assert.Equal(accepted + 1, (await outbox.AppendAsync(Verdicts.Make("more.tif"), default)).Seq);
    }

    [Fact]
    public async Task A_group_commit_records_the_verdicts_in_order_with_consecutive_seqs_that_survive_a_reopen()
    {
        using (var outbox = Open())
        {
            await outbox.AppendAsync(Verdicts.Make("0.tif"), default);
            var together = await outbox.AppendAsync([Verdicts.Make("1.tif"), Verdicts.Make("2.tif"), Verdicts.Make("3.tif")], default);
            Assert.Equal([2L, 3, 4], together.Select(v => v.Seq));
            Assert.Equal(["1.tif", "2.tif", "3.tif"], together.Select(v => v.Image));
            Assert.True(outbox.TryFindByImage("3.tif", out var found));
            Assert.Equal(4, found.Seq);
        }

        using var reopened = Open();
        Assert.Equal([1L, 2, 3, 4], Drain(reopened).Select(v => v.Seq));
        Assert.Equal(5, (await reopened.AppendAsync(Verdicts.Make("4.tif"), default)).Seq);
    }

    [Fact]
    public async Task A_group_commit_that_does_not_fit_writes_none_of_its_verdicts()
    {
        using var outbox = Open(o => o.MaxEntries = 3);
        await outbox.AppendAsync(Verdicts.Make("1.tif"), default);
        var size = outbox.SizeBytes;

        await Assert.ThrowsAsync<OutboxFullException>(() => outbox.AppendAsync([Verdicts.Make("2.tif"), Verdicts.Make("3.tif"), Verdicts.Make("4.tif")], default));
        Assert.Equal(size, outbox.SizeBytes);
        Assert.Equal(1, outbox.LastSeq);
        Assert.Equal([2L, 3], (await outbox.AppendAsync([Verdicts.Make("2.tif"), Verdicts.Make("3.tif")], default)).Select(v => v.Seq));
    }

    [Fact]
    public async Task An_ack_written_without_its_own_fsync_is_in_the_log_for_the_next_start()
    {
        using (var outbox = Open())
        {
            await outbox.AppendAsync([Verdicts.Make("1.tif"), Verdicts.Make("2.tif")], default);
            await outbox.MarkSentAsync(1, default);
        }

        using var reopened = Open();
        Assert.Equal(["2.tif"], Drain(reopened).Select(v => v.Image));
    }

    [Fact]
    public async Task A_second_outbox_on_the_same_directory_is_refused()
    {
        using var first = Open();
        await first.AppendAsync(Verdicts.Make("a.tif"), default);
        var ex = Assert.Throws<InvalidOperationException>(() => Open());
        Assert.Contains("in use by another process", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Leftover_of_an_interrupted_compaction_is_discarded()
    {
        using (var outbox = Open())
        {
            await outbox.AppendAsync(Verdicts.Make("a.tif"), default);
        }

        File.WriteAllText(_dir.Combine(VerdictOutbox.CompactFileName), "half a compaction");
        using var reopened = Open();
        Assert.Equal(["a.tif"], Drain(reopened).Select(v => v.Image));
        Assert.False(File.Exists(_dir.Combine(VerdictOutbox.CompactFileName)));
    }

    [Fact]
    public async Task Waiting_for_pending_completes_on_append_and_honours_cancellation()
    {
        using var outbox = Open();
        using var cts = new CancellationTokenSource();
        var cancelled = outbox.WaitForPendingAsync(cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        var waiting = outbox.WaitForPendingAsync(default);
        Assert.False(waiting.IsCompleted);
        await outbox.AppendAsync(Verdicts.Make("a.tif"), default);
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
    }

    private static IReadOnlyList<Verdict> Drain(VerdictOutbox outbox) => outbox.PendingSnapshot();

    private VerdictOutbox Open(Action<OutboxOptions>? configure = null)
    {
        var options = new OutboxOptions { Path = _dir.Path };
        configure?.Invoke(options);
        return new VerdictOutbox(Options.Create(options), _log);
    }
}
