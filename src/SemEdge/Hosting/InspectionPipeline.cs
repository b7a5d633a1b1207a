using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SemEdge.Actuation;
using SemEdge.Decision;
using SemEdge.Imaging;
using SemEdge.Ingest;
using SemEdge.Publishing;

namespace SemEdge.Hosting;

/// <summary>
/// The daemon's main loop: drop folder → claim → bounded queue → inspect → outbox (durable) → reject line →
/// archive. One claimer and one inspector, so verdicts leave in arrival order. The queue is bounded and the
/// claimer waits for room (and for the outbox to accept), so a slow model or a long broker outage leaves files
/// unclaimed in the drop folder instead of piling up in memory.
/// </summary>
public sealed class InspectionPipeline(
    DropFolder dropFolder,
    DropFolderWatcher watcher,
    Quarantine quarantine,
    ImageArchive archive,
    ArchiveRetention retention,
    ModelFolder models,
    ModelStore store,
    VerdictOutbox outbox,
    RejectLines rejectLines,
    MqttPublisher publisher,
    PipelineCounters counters,
    PipelineProgress progress,
    DaemonExit exit,
    IOptions<PipelineOptions> options,
    IOptions<IngestOptions> ingestOptions,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<InspectionPipeline> logger,
    IEnumerable<IVerdictObserver> observers) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Model loading and warm-up are seconds of CPU work: off the host's start-up thread.
        await Task.Yield();
        try
        {
            dropFolder.Prepare();
            quarantine.Prepare();
            archive.Prepare();
            var selection = models.Choose();
            store.LoadInitial(selection);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogCritical("Cannot start the pipeline: {Reason}", ex.Message);
            exit.Fail(ex.Message);
            lifetime.StopApplication();
            return;
        }

        var model = store.Announcement;
        publisher.AnnounceModel(model);
        rejectLines.SetReady(true);
        progress.MarkReady();
        logger.LogInformation(
            "Inspecting images from {DropFolder} with {ModelId} v{Version} on {Provider}",
            dropFolder.Drop, model.Id, model.Version, model.Provider);

        var queue = Channel.CreateBounded<ClaimedImage>(new BoundedChannelOptions(options.Value.QueueCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        try
        {
            await Task.WhenAll(ClaimAsync(queue.Writer, stoppingToken), InspectAsync(queue.Reader, stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown: whatever is in processing/ is recovered at the next start.
        }
        catch (Exception ex)
        {
            logger.LogCritical(ex, "The pipeline failed; stopping so the service manager restarts the daemon");
            rejectLines.SetFault(true);
            exit.Fail(ex.Message);
            lifetime.StopApplication();
        }
        finally
        {
            rejectLines.SetReady(false);
        }
    }

    private async Task ClaimAsync(ChannelWriter<ClaimedImage> queue, CancellationToken cancellationToken)
    {
        try
        {
            await RecoverAsync(queue, cancellationToken);
            await foreach (var entry in watcher.WatchAsync(cancellationToken))
            {
                if (entry.Refused)
                {
                    Refuse(Path.Combine(dropFolder.Drop, entry.Name), entry.Name, entry.RefusedReason!, entry.Detail ?? entry.RefusedReason!);
                    continue;
                }

                // Back-pressure: only claim what can be queued and made durable.
                await outbox.WaitUntilAcceptingAsync(cancellationToken);
                if (!await queue.WaitToWriteAsync(cancellationToken))
                {
                    return;
                }

                ClaimedImage? claimed;
                try
                {
                    claimed = dropFolder.Claim(entry.Name);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // E.g. permissions set by the writer: the file stays, is listed again and retried.
                    logger.LogWarning("Cannot claim {Image}: {Reason}; retrying at the next listing", entry.Name, ex.Message);
                    continue;
                }

                if (claimed is null)
                {
                    continue;
                }

                if (claimed.RefusedReason is { } reason)
                {
                    Refuse(claimed.Path, claimed.Name, reason, claimed.Detail ?? reason);
                    continue;
                }

                Enqueue(queue, claimed);
            }
        }
        finally
        {
            queue.TryComplete();
        }
    }

    /// <summary>
    /// Whatever <c>processing/</c> holds was claimed by a daemon that died. If its verdict reached the outbox
    /// (decided after the claim), only the archiving was lost; otherwise it is inspected again.
    /// </summary>
    private async Task RecoverAsync(ChannelWriter<ClaimedImage> queue, CancellationToken cancellationToken)
    {
        foreach (var leftover in dropFolder.Leftovers())
        {
            if (leftover.RefusedReason is { } reason)
            {
                Refuse(leftover.Path, leftover.Name, reason, leftover.Detail ?? reason);
            }
            else if (outbox.TryFindByImage(leftover.Name, out var verdict) && verdict.Timestamp >= leftover.ClaimedAt)
            {
                logger.LogInformation(
                    "Recovered {Image}: verdict {Seq} ({Action}) was already durable; archiving only", leftover.Name, verdict.Seq, verdict.Action);
                Archive(leftover, verdict);
            }
            else
            {
                logger.LogInformation("Recovered {Image} from processing/; inspecting it again", leftover.Name);
                await queue.WaitToWriteAsync(cancellationToken);
                Enqueue(queue, leftover);
            }
        }
    }

    private void Enqueue(ChannelWriter<ClaimedImage> queue, ClaimedImage image)
    {
        counters.CountClaimed();
        progress.Enqueued();
        if (!queue.TryWrite(image))
        {
            // Single writer and room was awaited: only a completed queue refuses, i.e. shutdown.
            progress.Dequeued();
            throw new OperationCanceledException("pipeline queue closed");
        }
    }

    private async Task InspectAsync(ChannelReader<ClaimedImage> queue, CancellationToken cancellationToken)
    {
        var nextRetention = time.GetUtcNow();
        await foreach (var image in queue.ReadAllAsync(cancellationToken))
        {
            progress.Dequeued();
            await InspectOneAsync(image, cancellationToken);
            if (time.GetUtcNow() >= nextRetention)
            {
                // Here, between images, so retention never races the archiving of an image.
                retention.Prune();
                nextRetention = time.GetUtcNow() + ingestOptions.Value.RetentionInterval;
            }
        }
    }

    private async Task InspectOneAsync(ClaimedImage image, CancellationToken cancellationToken)
    {
        Verdict verdict;
        progress.Started(image.Name);
        try
        {
            verdict = store.Inspect(image.Path, image.Name);
        }
        catch (ImageRejectedException ex)
        {
            Refuse(image.Path, image.Name, ex.Code, ex.Message);
            return;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Not the file's fault as far as we know, but retrying it forever (or crashing on it at every
            // restart) would stop the line; it is kept with the reason for an engineer to look at.
            logger.LogError(ex, "Inspection of {Image} failed", image.Name);
            Refuse(image.Path, image.Name, QuarantineReason.InspectionFailed, ex.Message);
            return;
        }
        finally
        {
            progress.Finished();
        }

        Verdict durable;
        while (true)
        {
            try
            {
                durable = await outbox.AppendAsync(verdict, cancellationToken);
                break;
            }
            catch (OutboxFullException)
            {
                logger.LogWarning("Outbox full ({Pending} verdicts unsent); waiting for the broker before recording {Image}", outbox.PendingCount, image.Name);
                await outbox.WaitUntilAcceptingAsync(cancellationToken);
            }
        }

        switch (durable.Action)
        {
            case VerdictAction.Pass:
                counters.CountPassed();
                break;
            case VerdictAction.Reject:
                counters.CountRejected();
                break;
            default:
                counters.CountReviewed();
                break;
        }

        await rejectLines.SignalAsync(durable, cancellationToken);
        var archived = Archive(image, durable);
        foreach (var observer in observers)
        {
            observer.OnVerdict(durable, archived);
        }

        logger.LogDebug("{Image}: {Label} {Confidence:0.000} -> {Action} (seq {Seq}, {Latency:0.0} ms)",
            durable.Image, durable.Label, durable.Confidence, durable.Action, durable.Seq, durable.LatencyMs);
    }

    private string? Archive(ClaimedImage image, Verdict verdict)
    {
        try
        {
            return archive.Keep(image.Path, image.Name, verdict.Action, verdict.Timestamp);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The verdict is durable; the image waits in processing/ and is archived by the next start's recovery.
            logger.LogError("Cannot archive {Image} (verdict {Seq} is recorded): {Reason}", image.Name, verdict.Seq, ex.Message);
            return null;
        }
    }

    private void Refuse(string path, string name, string reason, string detail)
    {
        try
        {
            var kept = quarantine.Put(path, name, reason, detail);
            counters.CountQuarantined();
            logger.LogWarning("Quarantined {Image} ({Reason}): {Detail} -> {Path}", name, reason, detail, kept);
        }
        catch (FileNotFoundException)
        {
            // Removed by the writer before we could move it: nothing to keep.
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            logger.LogError("Cannot quarantine {Image} ({Reason}: {Detail}): {Error}; it stays where it is", name, reason, detail, ex.Message);
        }
    }
}
