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
        var wake = Channel.CreateUnbounded<string?>(new UnboundedChannelOptions { SingleReader = true });
        using var watcher = new FileSystemWatcher(folder.Drop)
        {
            IncludeSubdirectories = false,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.LastWrite,
            InternalBufferSize = 64 * 1024,
        };
        watcher.Created += (_, _) => wake.Writer.TryWrite(null);
        watcher.Changed += (_, _) => wake.Writer.TryWrite(null);
        watcher.Renamed += (_, e) => wake.Writer.TryWrite(e.Name);
        watcher.Error += (_, e) =>
        {
            logger.LogWarning("Drop folder watcher lost events ({Reason}); the next rescan picks the files up", e.GetException().Message);
            wake.Writer.TryWrite(null);
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
                yield return new DropEntry(ready);
            }

            // While files are settling, look again soon enough to see them become stable.
            var wait = tracker.Pending > 0
                ? TimeSpan.FromTicks(Math.Clamp(options.StableFor.Ticks / 4, ShortestPoll.Ticks, options.RescanInterval.Ticks))
                : options.RescanInterval;
            await WaitForChangeAsync(wake.Reader, tracker, wait, cancellationToken);
        }
    }

    private async Task WaitForChangeAsync(ChannelReader<string?> wake, ReadinessTracker tracker, TimeSpan wait, CancellationToken cancellationToken)
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

    private static bool Drain(ChannelReader<string?> wake, ReadinessTracker tracker)
    {
        var any = false;
        while (wake.TryRead(out var renamedIn))
        {
            any = true;
            if (renamedIn is not null && !DropFolder.IsTemporaryName(renamedIn))
            {
                tracker.MarkRenamedIn(renamedIn);
            }
        }

        return any;
    }
}
