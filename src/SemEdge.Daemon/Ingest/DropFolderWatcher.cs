using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace SemEdge.Ingest;

/// <summary>
/// Turns the drop folder into a stream of entries to claim or refuse. A FileSystemWatcher gives low latency and
/// tells renamed-in files apart; a periodic full listing catches whatever inotify dropped (queue overflow, events
/// before the watch was set, network file systems). Either alone misses files.
/// </summary>
public sealed class DropFolderWatcher(DropFolder folder, IngestOptions options, TimeProvider time, ILogger<DropFolderWatcher> logger)
{
    private static readonly TimeSpan ShortestPoll = TimeSpan.FromMilliseconds(20);

    public async IAsyncEnumerable<DropEntry> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var wake = Channel.CreateUnbounded<FolderEvent>(new UnboundedChannelOptions { SingleReader = true });
        using var watcher = new FileSystemWatcher(folder.Drop)
        {
            IncludeSubdirectories = false,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.LastWrite,
            InternalBufferSize = 64 * 1024,
        };

        // On Linux a file moved in from another folder (IN_MOVED_TO without a matching IN_MOVED_FROM) is reported
        // as Created; a rename inside the folder as Renamed. The events give the arrival order.
        watcher.Created += (_, e) => wake.Writer.TryWrite(new FolderEvent(e.Name, RenamedIn: false));
        watcher.Changed += (_, e) => wake.Writer.TryWrite(new FolderEvent(e.Name, RenamedIn: false));
        watcher.Renamed += (_, e) => wake.Writer.TryWrite(new FolderEvent(e.Name, RenamedIn: true));
        watcher.Error += (_, e) =>
        {
            logger.LogWarning("Drop folder watcher lost events ({Reason}); the next rescan picks the files up", e.GetException().Message);
            wake.Writer.TryWrite(new FolderEvent(null, RenamedIn: false));
        };
        watcher.EnableRaisingEvents = true;

        var tracker = new ReadinessTracker(options.StableFor, time);
        while (!cancellationToken.IsCancellationRequested)
        {
            var listing = folder.List();
            foreach (var refused in listing.Refused)
            {
                yield return refused;
            }

            foreach (var ready in tracker.Observe(listing.Candidates))
            {
                yield return new DropEntry(ready.Name) { Stages = (ready.SeenAt, ready.ReadyAt) };
            }

            // While files are settling, look again soon enough to see them become stable.
            var wait = tracker.Pending > 0
                ? TimeSpan.FromTicks(Math.Clamp(options.StableFor.Ticks / 4, ShortestPoll.Ticks, options.RescanInterval.Ticks))
                : options.RescanInterval;
            await WaitForChangeAsync(wake.Reader, tracker, wait, cancellationToken);
        }
    }

    private async Task WaitForChangeAsync(ChannelReader<FolderEvent> wake, ReadinessTracker tracker, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (!Drain(wake, tracker))
        {
            using var rescanDue = new CancellationTokenSource(wait, time);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, rescanDue.Token);
            try
            {
                await wake.WaitToReadAsync(either.Token);
            }
            catch (OperationCanceledException)
            {
                return; // time for the periodic rescan, or shutting down (the caller's loop checks which)
            }

            Drain(wake, tracker);
        }
    }

    private static bool Drain(ChannelReader<FolderEvent> wake, ReadinessTracker tracker)
    {
        var any = false;
        while (wake.TryRead(out var change))
        {
            any = true;
            if (change.Name is { } name && !DropFolder.IsTemporaryName(name))
            {
                tracker.MarkEvent(name, change.RenamedIn);
            }
        }

        return any;
    }

    private readonly record struct FolderEvent(string? Name, bool RenamedIn);
}
