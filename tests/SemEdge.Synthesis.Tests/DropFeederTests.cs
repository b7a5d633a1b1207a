using Microsoft.Extensions.Time.Testing;
using SemEdge.Cli;
using SemEdge.Synthesis;

namespace SemEdge.Tests.Synthesis;

public class DropFeederTests
{
    [Fact]
    public async Task Drop_mode_renames_files_in_leaves_no_temp_names_and_honours_count()
    {
        using var tmp = new TempFolder();
        var drop = tmp.Combine("drop");
        Directory.CreateDirectory(drop);
        var renamed = new List<(string From, string To)>();
        var created = new List<string>();
        using var watcher = new FileSystemWatcher(drop) { IncludeSubdirectories = false };
        watcher.Renamed += (_, e) => { lock (renamed) { renamed.Add((e.OldName!, e.Name!)); } };
        watcher.Created += (_, e) => { lock (created) { created.Add(e.Name!); } };
        watcher.EnableRaisingEvents = true;

        var code = await WorkstationCli.RunAsync(["synth", "--drop", drop, "--rate", "200", "--count", "7", "--size", "96", "--seed", "4", "--classes", "bridge,clean,vias"], CancellationToken.None);

        Assert.Equal(0, code);
        var files = Directory.GetFiles(drop).Select(f => Path.GetFileName(f)).Order().ToList();
        Assert.Equal(7, files.Count);
        Assert.DoesNotContain(files, f => f.StartsWith('.') || f.EndsWith(".tmp", StringComparison.Ordinal));
        Assert.All(files, f => Assert.Matches(@"^(bridge|clean|vias)-00000[1-7]\.png$", f));

        // inotify events arrive asynchronously; give them a moment.
        for (var i = 0; i < 50 && renamed.Count < 7; i++)
        {
            await Task.Delay(50);
        }
        lock (renamed)
        {
            Assert.Equal(files, renamed.Select(r => r.To).Order().ToList());
            Assert.All(renamed, r => Assert.Equal($".{r.To}.tmp", r.From));
        }
        lock (created)
        {
            Assert.DoesNotContain(created, c => !c.StartsWith('.'));
        }
    }

    [Fact]
    public async Task Drop_mode_paces_images_by_the_rate_on_the_time_provider()
    {
        using var tmp = new TempFolder();
        var time = new FakeTimeProvider();
        var feeder = new DropFeeder(new DirectoryInfo(tmp.Path), 9, 2.0, SemClasses.Names, 64, time);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var run = feeder.RunAsync(4, null, cts.Token);

        await WaitForFiles(tmp.Path, 1);
        await Task.Delay(200);
        Assert.Single(Directory.GetFiles(tmp.Path, "*.png"));

        time.Advance(TimeSpan.FromMilliseconds(500));
        await WaitForFiles(tmp.Path, 2);
        time.Advance(TimeSpan.FromMilliseconds(1000));
        Assert.Equal(4, await run);
        Assert.Equal(4, Directory.GetFiles(tmp.Path, "*.png").Length);
        for (var i = 1; i <= 4; i++)
        {
            Assert.True(File.Exists(Path.Combine(tmp.Path, DropFeeder.FileName(feeder.ClassFor(i), i))));
        }
    }

    [Fact]
    public async Task Drop_mode_stops_cleanly_when_cancelled()
    {
        using var tmp = new TempFolder();
        var time = new FakeTimeProvider();
        var feeder = new DropFeeder(new DirectoryInfo(tmp.Path), 9, 1.0, [SemClasses.Clean], 64, time);
        using var cts = new CancellationTokenSource();
        var run = feeder.RunAsync(null, null, cts.Token);
        await WaitForFiles(tmp.Path, 1);
        cts.Cancel();
        Assert.Equal(1, await run);
        Assert.Empty(Directory.GetFiles(tmp.Path, ".*"));
    }

    private static async Task WaitForFiles(string folder, int count)
    {
        for (var i = 0; i < 600 && Directory.GetFiles(folder, "*.png").Length < count; i++)
        {
            await Task.Delay(50);
        }
        Assert.True(Directory.GetFiles(folder, "*.png").Length >= count, $"expected {count} files in {folder}");
    }
}
