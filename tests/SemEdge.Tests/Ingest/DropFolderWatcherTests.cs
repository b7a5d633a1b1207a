using Microsoft.Extensions.Logging.Abstractions;
using SemEdge.Ingest;
using SemEdge.Tests.Platform;

namespace SemEdge.Tests.Ingest;

public sealed class DropFolderWatcherTests : IDisposable
{
    private readonly TempFolder _root = new();
    private readonly IngestOptions _options;
    private readonly DropFolder _folder;

    public DropFolderWatcherTests()
    {
        _options = new IngestOptions
        {
            DropFolder = _root.Combine("drop"),
            ProcessingFolder = _root.Combine("processing"),
            StableFor = TimeSpan.FromMilliseconds(400),
            RescanInterval = TimeSpan.FromMilliseconds(200),
        };
        _folder = new DropFolder(_options, TimeProvider.System);
        _folder.Prepare();
    }

    public void Dispose() => _root.Dispose();

    private async Task<List<(DropEntry Entry, TimeSpan At)>> WatchAsync(Func<Task> act, int expected)
    {
        var watcher = new DropFolderWatcher(_folder, _options, TimeProvider.System, NullLogger<DropFolderWatcher>.Instance);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<(DropEntry, TimeSpan)>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var acting = Task.Run(act, cts.Token);
        await foreach (var entry in watcher.WatchAsync(cts.Token))
        {
            seen.Add((entry, clock.Elapsed));
            if (entry.Refused)
            {
                // What the claimer would do with a refused entry; otherwise the next listing offers it again.
                File.Delete(Path.Combine(_folder.Drop, entry.Name));
            }
            else
            {
                _folder.Claim(entry.Name);
            }

            if (seen.Count == expected)
            {
                break;
            }
        }

        await acting;
        return seen;
    }

    [Fact]
    public async Task File_still_being_written_is_offered_only_after_it_stops_growing()
    {
        var path = Path.Combine(_folder.Drop, "slow.png");
        var lastWrite = TimeSpan.Zero;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var seen = await WatchAsync(
            async () =>
            {
                await using var stream = new FileStream(path, FileMode.CreateNew);
                for (var i = 0; i < 6; i++)
                {
                    await stream.WriteAsync(new byte[100]);
                    await stream.FlushAsync();
                    await Task.Delay(150);
                }

                lastWrite = clock.Elapsed;
            },
            expected: 1);

        Assert.Equal("slow.png", seen[0].Entry.Name);
        Assert.True(seen[0].At >= lastWrite, $"offered at {seen[0].At} before the last write at {lastWrite}");
        Assert.Equal(600, new FileInfo(Path.Combine(_folder.Processing, "slow.png")).Length);
    }

    [Fact]
    public async Task Renamed_in_file_is_offered_without_waiting_for_the_stable_time()
    {
        _options.StableFor = TimeSpan.FromSeconds(30);
        var seen = await WatchAsync(
            async () =>
            {
                await Task.Delay(100);
                var temporary = Path.Combine(_folder.Drop, "a.png.tmp");
                await File.WriteAllBytesAsync(temporary, [1, 2, 3]);
                File.Move(temporary, Path.Combine(_folder.Drop, "a.png"));
            },
            expected: 1);

        Assert.Equal("a.png", seen[0].Entry.Name);
        Assert.True(seen[0].At < TimeSpan.FromSeconds(5), $"took {seen[0].At}");
    }

    [Fact]
    public async Task Files_present_before_the_watch_started_are_found_by_the_listing()
    {
        File.WriteAllBytes(Path.Combine(_folder.Drop, "old1.png"), [1]);
        File.WriteAllBytes(Path.Combine(_folder.Drop, "old2.png"), [1]);
        File.CreateSymbolicLink(Path.Combine(_folder.Drop, "link.png"), "/etc/hostname");

        var seen = await WatchAsync(() => Task.CompletedTask, expected: 3);

        Assert.Equal(QuarantineReason.EscapedPath, seen.Single(s => s.Entry.Name == "link.png").Entry.RefusedReason);
        Assert.Equal(["old1.png", "old2.png"], seen.Where(s => !s.Entry.Refused).Select(s => s.Entry.Name).Order());
    }
}
