using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SemEdge.Actuation;
using SemEdge.Decision;
using SemEdge.Imaging;
using SemEdge.Ingest;
using SemEdge.Publishing;
using SemEdge.Telemetry;

namespace SemEdge.Pipeline;

/// <summary>
/// The daemon's main loop: drop folder → claim → bounded queue → read, decode and preprocess (Pipeline:Workers
/// decode workers in parallel) → back into claim order → infer (one stage, one model set, one image at a time) →
/// outbox (durable, seq assigned) → reject line → archive. One claimer numbers the images; the inference stage
/// takes the prepared images strictly in that order and the committer records them as they come, so seq order is
/// claim order (which is arrival order) however the workers finish. Decoding is most of an image's CPU time and
/// spreads over the cores; the models run once per image on one thread, so one copy of them is loaded. The queue
/// is bounded and the claimer waits for room (and for the outbox to accept), so a slow model or a long broker
/// outage leaves files unclaimed in the drop folder instead of piling up in memory.
/// <para>A clean stop (SIGTERM) claims nothing more, lets the inference in progress finish (verdict, pulse,
/// archive) and hands every claimed image not yet inferred back to the drop folder (decoded or not):
/// <c>processing/</c> is left empty. Only a crash leaves files there, and recovery at the next start deals with
/// them.</para>
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
    MissedPulseAlarms alarms,
    LatencyBudget latency,
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
    private long _lastRetention;
    private bool _retentionRan;
    private long _nextOrdinal;
    private SemaphoreSlim? _uncommitted;

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
        var workers = options.Value.EffectiveWorkers;
        logger.LogInformation(
            "Inspecting images from {DropFolder} with {ModelId} v{Version} on {Provider} ({Screen}), {Workers} decode worker(s) and one inference stage",
            dropFolder.Drop, model.Id, model.Version, model.Provider, model.ScreenId is { } screen ? $"screen {screen} in front" : "no screen", workers);

        var queue = Channel.CreateBounded<Work>(new BoundedChannelOptions(options.Value.QueueCapacity)
        {
            SingleReader = workers == 1,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        // A worker's write wakes the inference stage's thread directly, not through a thread-pool hop: the only
        // continuation is that thread's wait (the channel is unbounded, so no writer ever waits).
        var prepared = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = workers == 1, AllowSynchronousContinuations = true });
        var inferred = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

        // Claimed but not yet committed: the queue plus one image per worker. Workers finish faster than a blocked
        // outbox commits, so the queue alone would not hold claims back; this also bounds the prepared images
        // waiting for the inference stage.
        using var uncommitted = new SemaphoreSlim(options.Value.QueueCapacity + workers);
        _uncommitted = uncommitted;

        // A failure of any part stops the others; a clean stop only stops the claimer and the workers' intake.
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        try
        {
            var claiming = Guard(ClaimAsync(queue.Writer, failed.Token), failed);
            var preparing = Guard(RunWorkersAsync(workers, queue.Reader, prepared.Writer, failed.Token), failed);
            var inferring = Guard(OnOwnThread(() => Infer(prepared.Reader, inferred.Writer, failed.Token)), failed);
            var committing = Guard(CommitAsync(inferred.Reader, failed.Token), failed);
            await Task.WhenAll(claiming, preparing, inferring, committing);
            HandBack(queue.Reader);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            HandBack(queue.Reader);
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

    private static async Task Guard(Task part, CancellationTokenSource failed)
    {
        try
        {
            await part;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await failed.CancelAsync();
            throw;
        }
    }

    private async Task ClaimAsync(ChannelWriter<Work> queue, CancellationToken cancellationToken)
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
                await _uncommitted!.WaitAsync(cancellationToken);
                if (!await queue.WaitToWriteAsync(cancellationToken))
                {
                    _uncommitted.Release();
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
                    _uncommitted.Release();
                    continue;
                }

                if (claimed is null)
                {
                    _uncommitted.Release();
                    continue;
                }

                if (claimed.RefusedReason is { } reason)
                {
                    _uncommitted.Release();
                    Refuse(claimed.Path, claimed.Name, reason, claimed.Detail ?? reason);
                    continue;
                }

                var stages = LatencyBudget.Start(entry.Stages.SeenAt, entry.Stages.ReadyAt);
                stages[Stage.Claimed] = time.GetTimestamp();
                Enqueue(queue, claimed, stages);
            }
        }
        finally
        {
            queue.TryComplete();
        }
    }

    /// <summary>
    /// Whatever <c>processing/</c> holds was claimed by a daemon that died. If its verdict reached the outbox
    /// (decided after the claim), only the pulse and the archiving can have been lost: a reject or review whose
    /// pulse was never recorded raises the missed-pulse alarm (a late pulse would hit another part) and pulses the
    /// alarm line when one is wired, then the
    /// image is archived. Otherwise it is inspected again.
    /// </summary>
    private async Task RecoverAsync(ChannelWriter<Work> queue, CancellationToken cancellationToken)
    {
        foreach (var leftover in dropFolder.Leftovers())
        {
            if (leftover.RefusedReason is { } reason)
            {
                Refuse(leftover.Path, leftover.Name, reason, leftover.Detail ?? reason);
            }
            else if (outbox.TryFindByImage(leftover.Name, out var verdict) && verdict.Timestamp >= leftover.ClaimedAt)
            {
                if (rejectLines.Drives(verdict.Action) && !outbox.WasPulsed(verdict.Seq))
                {
                    alarms.Raise(verdict);
                    rejectLines.SignalMissedPulse(verdict);
                }

                logger.LogInformation(
                    "Recovered {Image}: verdict {Seq} ({Action}) was already durable; archiving only", leftover.Name, verdict.Seq, verdict.Action);
                Archive(leftover, verdict);
            }
            else
            {
                logger.LogInformation("Recovered {Image} from processing/; inspecting it again", leftover.Name);
                await _uncommitted!.WaitAsync(cancellationToken);
                await queue.WaitToWriteAsync(cancellationToken);
                var now = time.GetTimestamp();
                var stages = LatencyBudget.Start(now, now);
                stages[Stage.Claimed] = now;
                Enqueue(queue, leftover, stages);
            }
        }
    }

    private void Enqueue(ChannelWriter<Work> queue, ClaimedImage image, StageTimes stages)
    {
        counters.CountClaimed();
        progress.Enqueued();
        if (!queue.TryWrite(new Work(_nextOrdinal++, image, stages)))
        {
            // Single writer and room was awaited: only a completed queue refuses, i.e. shutdown.
            progress.Dequeued();
            throw new OperationCanceledException("pipeline queue closed");
        }
    }

    private async Task RunWorkersAsync(int workers, ChannelReader<Work> queue, ChannelWriter<Work> prepared, CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => OnOwnThread(() => Prepare(queue, prepared, cancellationToken))));
        }
        finally
        {
            prepared.TryComplete();
        }
    }

    /// <summary>
    /// The decode workers and the inference stage keep a core busy for as long as images are waiting, so each has a
    /// thread of its own: on the thread pool they would hold its few threads (as many as cores) and the claimer, the
    /// committer and MQTT would wait for the pool to grow, which it does at about two threads a second.
    /// </summary>
    private static Task OnOwnThread(Action stage) =>
        Task.Factory.StartNew(stage, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Blocks this stage's own thread until <paramref name="reader"/> has an item (true) or is completed (false).</summary>
    private static bool WaitToRead(ChannelReader<Work> reader, CancellationToken cancellationToken)
    {
        var waiting = reader.WaitToReadAsync(cancellationToken);
        return waiting.IsCompletedSuccessfully ? waiting.Result : waiting.AsTask().GetAwaiter().GetResult();
    }

    /// <summary>A decode worker: reads, decodes and preprocesses claimed images, several workers at once, in any order.</summary>
    private void Prepare(ChannelReader<Work> queue, ChannelWriter<Work> prepared, CancellationToken cancellationToken)
    {
        try
        {
            while (WaitToRead(queue, cancellationToken))
            {
                if (!queue.TryRead(out var work))
                {
                    continue;
                }

                progress.Dequeued();
                if (Prepare(work, cancellationToken))
                {
                    prepared.TryWrite(work);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: what is still queued is handed back to the drop folder.
        }
    }

    /// <returns>False when stopped while preparing: the image was handed back.</returns>
    private bool Prepare(Work work, CancellationToken cancellationToken) =>
        Step(work, "Reading", cancellationToken, () =>
        {
            work.Prepared = store.Prepare(work.Image.Path, cancellationToken);
            work.Stages[Stage.Decoded] = time.GetTimestamp();
        });

    /// <summary>
    /// One stage's work on an image, watched by the watchdog: an image SemEdge cannot read, or a failure, becomes the
    /// image's quarantine reason (it keeps its place in the order); a stop hands the image back (false).
    /// </summary>
    private bool Step(Work work, string what, CancellationToken cancellationToken, Action step)
    {
        var id = progress.Started(work.Image.Name);
        try
        {
            step();
        }
        catch (ImageRejectedException ex)
        {
            work.Refusal = (ex.Code, ex.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            HandBack(work.Image);
            return false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Not the file's fault as far as we know, but retrying it forever (or crashing on it at every
            // restart) would stop the line; it is kept with the reason for an engineer to look at.
            logger.LogError(ex, "{Step} of {Image} failed", what, work.Image.Name);
            work.Refusal = (QuarantineReason.InspectionFailed, ex.Message);
        }
        finally
        {
            progress.Finished(id);
        }

        return true;
    }

    /// <summary>
    /// The inference stage: takes prepared images back into claim order and runs the models on each, one at a time.
    /// An image refused at decoding passes through in its place, so it holds up nothing behind it.
    /// </summary>
    /// <remarks>
    /// Reads until the workers are done (not cancelled by a stop): at a stop, the inference in progress finishes and
    /// every prepared image after it, including those the workers are still finishing, is handed back.
    /// </remarks>
    private void Infer(ChannelReader<Work> prepared, ChannelWriter<Work> inferred, CancellationToken stoppingToken)
    {
        var waiting = new Dictionary<long, Work>();
        var next = 0L;
        try
        {
            while (WaitToRead(prepared, CancellationToken.None))
            {
                while (prepared.TryRead(out var work))
                {
                    waiting[work.Ordinal] = work;
                }

                while (!stoppingToken.IsCancellationRequested && waiting.Remove(next, out var ready))
                {
                    next++;
                    if (Infer(ready, stoppingToken))
                    {
                        inferred.TryWrite(ready);
                    }
                }
            }
        }
        finally
        {
            inferred.TryComplete();
        }

        foreach (var left in waiting.Values.OrderBy(w => w.Ordinal))
        {
            HandBack(left.Image);
        }
    }

    /// <returns>False when stopped while preparing the image again after a model swap: the image was handed back.</returns>
    private bool Infer(Work work, CancellationToken stoppingToken)
    {
        if (work.Prepared is not { } prepared)
        {
            return true; // refused at decoding: quarantined by the committer, in its place
        }

        work.Prepared = null;
        return Step(work, "Inspection", stoppingToken, () =>
        {
            work.Verdict = store.Infer(prepared, work.Image.Name, stoppingToken);
            work.Stages[Stage.Inferred] = time.GetTimestamp();
        });
    }

    /// <summary>Records, signals and archives the inferred images, which arrive in claim order.</summary>
    /// <remarks>Runs until the inference stage is done (not cancelled by a stop), so the images it finished are finished.</remarks>
    private async Task CommitAsync(ChannelReader<Work> inferred, CancellationToken stoppingToken)
    {
        var batch = new List<Work>();
        while (await inferred.WaitToReadAsync(CancellationToken.None))
        {
            // Every image inferred by now is committed together: one fsync for all (group commit). At a steady rate
            // that is one image; in a burst, whatever the inference stage finished during the last fsync.
            batch.Clear();
            while (inferred.TryRead(out var work))
            {
                batch.Add(work);
            }

            if (batch.Count == 0)
            {
                continue;
            }

            try
            {
                await CommitBatchAsync(batch, stoppingToken);
            }
            finally
            {
                _uncommitted!.Release(batch.Count);
            }

            RunRetentionWhenDue();
        }
    }

    /// <summary>Records the batch's verdicts (in order, one fsync), then pulses, archives and reports each in order.</summary>
    private async Task CommitBatchAsync(List<Work> batch, CancellationToken stoppingToken)
    {
        var deciding = batch.Where(w => w.Refusal is null).ToList();
        IReadOnlyList<Verdict>? together = null;
        if (deciding.Count > 1)
        {
            try
            {
                // Not cancelled by a clean stop: the fsync takes a moment, and a stop should finish these images.
                together = await outbox.AppendAsync([.. deciding.Select(w => w.Verdict!)], CancellationToken.None);
                var durableAt = time.GetTimestamp();
                foreach (var work in deciding)
                {
                    work.Stages[Stage.Durable] = durableAt;
                }
            }
            catch (OutboxFullException)
            {
                // No room for all of them: one at a time below, each waiting for room as the broker drains.
            }
        }

        var index = 0;
        foreach (var work in batch)
        {
            if (work.Refusal is { } refusal)
            {
                Refuse(work.Image.Path, work.Image.Name, refusal.Code, refusal.Detail);
                continue;
            }

            var durable = together is null ? await MakeDurableAsync(work, stoppingToken) : together[index++];
            if (durable is not null)
            {
                await CommitDurableAsync(work, durable);
            }
        }
    }

    /// <summary>Appends one verdict, waiting while the outbox is full; null when stopping with no room (handed back).</summary>
    private async Task<Verdict?> MakeDurableAsync(Work work, CancellationToken stoppingToken)
    {
        while (true)
        {
            try
            {
                // Not cancelled by a clean stop: the fsync takes a moment, and a stop should finish this image.
                var durable = await outbox.AppendAsync(work.Verdict!, CancellationToken.None);
                work.Stages[Stage.Durable] = time.GetTimestamp();
                return durable;
            }
            catch (OutboxFullException)
            {
                logger.LogWarning("Outbox full ({Pending} verdicts unsent); waiting for the broker before recording {Image}", outbox.PendingCount, work.Image.Name);
                try
                {
                    await outbox.WaitUntilAcceptingAsync(stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    // No room and stopping: not decided as far as anyone knows; back to the drop folder.
                    HandBack(work.Image);
                    return null;
                }
            }
        }
    }

    /// <summary>A durable verdict: counted, pulsed, archived, reported.</summary>
    private async Task CommitDurableAsync(Work work, Verdict durable)
    {
        latency.Track(durable.Seq, work.Stages);
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

        if (options.Value.TestOnlyKillBeforePulse && rejectLines.Drives(durable.Action))
        {
            logger.LogCritical("Pipeline:TestOnlyKillBeforePulse is set: killing the process before the pulse of seq {Seq}", durable.Seq);
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        }

        if (await rejectLines.SignalAsync(durable, CancellationToken.None))
        {
            await outbox.RecordPulsedAsync(durable.Seq, CancellationToken.None);
        }

        var archived = Archive(work.Image, durable);
        foreach (var observer in observers)
        {
            observer.OnVerdict(durable, archived);
        }

        logger.LogDebug("{Image}: {Label} {Confidence:0.000} -> {Action} (seq {Seq}, {Latency:0.0} ms)",
            durable.Image, durable.Label, durable.Confidence, durable.Action, durable.Seq, durable.LatencyMs);
    }

    private void RunRetentionWhenDue()
    {
        // Here, between images, so retention never races the archiving of an image. Monotonic interval.
        if (!_retentionRan || time.GetElapsedTime(_lastRetention) >= ingestOptions.Value.RetentionInterval)
        {
            retention.Prune();
            _retentionRan = true;
            _lastRetention = time.GetTimestamp();
        }
    }

    private void HandBack(ChannelReader<Work> queue)
    {
        while (queue.TryRead(out var work))
        {
            progress.Dequeued();
            HandBack(work.Image);
        }
    }

    /// <summary>A claimed image not decided when stopping goes back to the drop folder, where the next start finds it.</summary>
    private void HandBack(ClaimedImage image)
    {
        try
        {
            var back = CollisionFreeMove.Move(image.Path, dropFolder.Drop, image.Name);
            logger.LogInformation("Stopping: {Image} was claimed but not inspected; handed back as {Path}", image.Name, back);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Stopping: cannot hand {Image} back ({Reason}); the next start recovers it from processing/", image.Name, ex.Message);
        }
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

    /// <summary>One claimed image on its way through the stages; <see cref="Ordinal"/> is its claim order.</summary>
    private sealed class Work(long ordinal, ClaimedImage image, StageTimes stages)
    {
        public long Ordinal { get; } = ordinal;

        public ClaimedImage Image { get; } = image;

        public StageTimes Stages { get; } = stages;

        /// <summary>Decoded and preprocessed, waiting for the inference stage; null once inferred or when refused.</summary>
        public PreparedWork? Prepared { get; set; }

        public Verdict? Verdict { get; set; }

        public (string Code, string Detail)? Refusal { get; set; }
    }
}
