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
    public async Task A_file_moved_in_from_another_folder_is_offered_without_waiting_for_the_stable_time()
    {
        // Issue 12 item 4: SEM tools and file shares move finished files in; FileSystemWatcher reports that as
        // Created (IN_MOVED_TO without a matching IN_MOVED_FROM), so only the ctime tells it from a fresh create.
        _options.StableFor = TimeSpan.FromMinutes(5);
        var staging = _root.Combine("staging");
        Directory.CreateDirectory(staging);
        await File.WriteAllBytesAsync(Path.Combine(staging, "moved.png"), [1, 2, 3]);
        await Task.Delay(50); // the move must come at a later kernel tick than the last write (ctime > mtime)

        var seen = await WatchAsync(
            async () =>
            {
                await Task.Delay(100);
                File.Move(Path.Combine(staging, "moved.png"), Path.Combine(_folder.Drop, "moved.png"));
            },
            expected: 1);

        Assert.Equal("moved.png", seen[0].Entry.Name);
        Assert.False(seen[0].Entry.Refused);
    }

    [Fact]
    public async Task A_file_created_in_place_still_waits_for_the_stable_time()
    {
        _options.StableFor = TimeSpan.FromMilliseconds(600);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TimeSpan written = default;
        var seen = await WatchAsync(
            async () =>
            {
                await Task.Delay(100);
                await File.WriteAllBytesAsync(Path.Combine(_folder.Drop, "inplace.png"), [1, 2, 3]);
                written = clock.Elapsed;
            },
            expected: 1);

        Assert.True(seen[0].At - written >= TimeSpan.FromMilliseconds(600), $"offered {seen[0].At - written} after the write");
    }

    [Fact]
    public async Task Files_are_offered_in_arrival_order_not_listing_order()
    {
        // Issue 12 item 5: after a burst the folder listing's order had 245 inversions in 500 images.
        _options.StableFor = TimeSpan.FromMinutes(5);
        var names = Enumerable.Range(0, 150).Select(i => $"{(i * 7919) % 1000:D3}-{i}.png").ToList();
        var staging = _root.Combine("staging");
        Directory.CreateDirectory(staging);
        foreach (var name in names)
        {
            await File.WriteAllBytesAsync(Path.Combine(staging, name), [1]);
        }

        await Task.Delay(50); // the moves come at a later kernel tick than the writes (ctime > mtime)

        // Moves start only once the watcher is running (it offered a first file), so every one has its event.
        var watcher = new DropFolderWatcher(_folder, _options, TimeProvider.System, NullLogger<DropFolderWatcher>.Instance);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await File.WriteAllBytesAsync(Path.Combine(_folder.Drop, "first.png.tmp"), [1], cts.Token);
        File.Move(Path.Combine(_folder.Drop, "first.png.tmp"), Path.Combine(_folder.Drop, "first.png"));
        var seen = new List<string>();
        await foreach (var entry in watcher.WatchAsync(cts.Token))
        {
            _folder.Claim(entry.Name);
            if (entry.Name == "first.png")
            {
                foreach (var name in names)
                {
                    // Half renamed inside the folder, half moved in from the staging folder: one arrival order.
                    if (names.IndexOf(name) % 2 == 0)
                    {
                        File.Move(Path.Combine(staging, name), Path.Combine(_folder.Drop, "." + name + ".tmp"));
                        File.Move(Path.Combine(_folder.Drop, "." + name + ".tmp"), Path.Combine(_folder.Drop, name));
                    }
                    else
                    {
                        File.Move(Path.Combine(staging, name), Path.Combine(_folder.Drop, name));
                    }
                }

                continue;
            }

            seen.Add(entry.Name);
            if (seen.Count == names.Count)
            {
                break;
            }
        }

        Assert.Equal(names, seen);
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
