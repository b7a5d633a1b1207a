using System.Globalization;
using Microsoft.Extensions.Options;
using SemEdge.Actuation;
using SemEdge.Inference;
using SemEdge.Ingest;
using SemEdge.Pipeline;
using SemEdge.Publishing;
using SemEdge.Telemetry;

namespace SemEdge.Web;

/// <summary>What the page reads from the daemon, in one place: each value is a snapshot read without waiting on
/// the pipeline (the model announcement is cached, so the page never queues behind an inspection for it).</summary>
public sealed class WebState
{
    private readonly ModelStore _models;
    private readonly PipelineCounters _counters;
    private readonly PipelineProgress _progress;
    private readonly VerdictOutbox _outbox;
    private readonly MqttPublisher _publisher;
    private readonly RejectLines _lines;
    private readonly ServiceManagerEnvironment _serviceManager;
    private readonly SystemdOptions _systemd;
    private readonly Lock _modelLock = new();
    private ModelAnnouncement? _model;
    private long _modelReadAt;

    public WebState(
        IOptions<WebOptions> web,
        IOptions<InferenceOptions> inference,
        IOptions<SystemdOptions> systemd,
        ImageArchive archive,
        ModelStore models,
        PipelineCounters counters,
        PipelineProgress progress,
        VerdictOutbox outbox,
        MqttPublisher publisher,
        RejectLines lines,
        ServiceManagerEnvironment serviceManager,
        ThumbnailRing thumbnails,
        TimeProvider time,
        Microsoft.Extensions.Logging.ILogger<VerdictFeed> feedLogger)
    {
        _models = models;
        _counters = counters;
        _progress = progress;
        _outbox = outbox;
        _publisher = publisher;
        _lines = lines;
        _serviceManager = serviceManager;
        _systemd = systemd.Value;
        Time = time;
        MaxPixels = inference.Value.MaxPixels;
        Archive = new ArchivePaths(archive.Folder);
        Journal = new VerdictJournal(web.Value.StateFolder, Archive);
        Dataset = new LabelledDataset(web.Value.DatasetFolder, web.Value.ValidationPercent, time);
        Stats = new HourlyStats(time);
        Thumbnails = thumbnails;
        Feed = new VerdictFeed(web.Value.FeedCapacity, Archive, Journal, Stats, () => Model()?.ScreenId, feedLogger, thumbnails);
    }

    public TimeProvider Time { get; }

    public long MaxPixels { get; }

    public ArchivePaths Archive { get; }

    public VerdictJournal Journal { get; }

    public LabelledDataset Dataset { get; }

    public HourlyStats Stats { get; }

    public VerdictFeed Feed { get; }

    public ThumbnailRing Thumbnails { get; }

    /// <summary>Images are queued behind the one being inspected: the pipeline is the bottleneck right now.</summary>
    public bool ImagesWaiting => _progress.Queued > 0;

    public IReadOnlyList<string> Classes() => Model()?.Classes ?? [];

    public HealthReport Health()
    {
        var (total, classes) = Stats.LastHour();
        var model = Model();
        var inFlight = _progress.InFlight();
        var stalled = inFlight is { } f && f.Elapsed > _systemd.StallLimit;
        var watchdog = new WatchdogState(
            _serviceManager.NotifySocket is not null,
            _serviceManager.WatchdogInterval?.TotalSeconds,
            _serviceManager.WatchdogInterval is null ? "not requested" : stalled ? "stalled: pings stopped" : "pinging",
            inFlight?.Image,
            Math.Round(inFlight?.Elapsed.TotalSeconds ?? 0, 1));
        return new HealthReport(
            Time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            Stats.ImagesPerSecond(),
            total,
            classes,
            Stats.Chart(),
            _counters.Inspected,
            _counters.Passed,
            _counters.Rejected,
            _counters.Reviewed,
            _counters.Quarantined,
            _counters.Published,
            _progress.Queued,
            _outbox.PendingCount,
            _publisher.IsConnected,
            model is null ? null : new ModelState(model.Id, model.Version, model.Sha, model.Provider, model.ScreenId, model.Classes),
            [.. _lines.States().Select(s => new GpioLineState(s.Line, s.Active))],
            watchdog,
            Feed.Dropped,
            Feed.Streams);
    }

    public IReadOnlyList<ArchiveEntry> List(string? day, string? action, int limit = 300)
    {
        if (!ArchivePaths.IsDay(day) || action is null || !ArchivePaths.Actions.Contains(action))
        {
            return [];
        }

        var labels = Dataset.LabelsBySource();
        return [.. Archive.Files(day!, action).Take(limit).Select(f => Entry(day!, action, f, labels))];
    }

    /// <summary>Review images not yet labelled, newest day first.</summary>
    public IReadOnlyList<ArchiveEntry> ReviewQueue(int limit = 200)
    {
        var labels = Dataset.LabelsBySource();
        return [.. Archive.Days()
            .SelectMany(d => Archive.Files(d.Day, "review").Select(f => (d.Day, File: f)))
            .Where(x => !labels.ContainsKey($"{x.Day}/review/{x.File.Name}"))
            .Take(limit)
            .Select(x => Entry(x.Day, "review", x.File, labels))];
    }

    private ArchiveEntry Entry(string day, string action, FileInfo file, IReadOnlyDictionary<string, string> labels)
    {
        var relative = $"{day}/{action}/{file.Name}";
        return new ArchiveEntry(
            relative,
            file.Name,
            file.Length,
            file.LastWriteTimeUtc.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            Journal.Find(relative),
            labels.GetValueOrDefault(relative));
    }

    /// <summary>The deciding models, read at most once a second (null until the pipeline has loaded them).</summary>
    private ModelAnnouncement? Model()
    {
        lock (_modelLock)
        {
            if (_model is null || Time.GetElapsedTime(_modelReadAt) > TimeSpan.FromSeconds(1))
            {
                try
                {
                    _model = _models.Announcement;
                    _modelReadAt = Time.GetTimestamp();
                }
                catch (InvalidOperationException)
                {
                    // No model loaded yet.
                }
            }

            return _model;
        }
    }
}
