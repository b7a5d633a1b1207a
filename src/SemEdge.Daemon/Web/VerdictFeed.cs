using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using SemEdge.Decision;
using SemEdge.Pipeline;

namespace SemEdge.Web;

/// <summary>
/// The one link from the pipeline to the page. <see cref="OnVerdict"/> runs on the inspection path and only
/// writes to a bounded, drop-oldest channel (it never waits); <see cref="RunAsync"/>, on the web side, turns each
/// verdict into a page event: the recent list, the hourly statistics, the verdict journal the archive browser
/// reads, the live thumbnail's archive path, and one bounded drop-oldest queue per open event stream.
/// </summary>
public sealed class VerdictFeed : IVerdictObserver
{
    public const int RecentCount = 60;
    private const int StreamCapacity = 256;

    private readonly Channel<(Verdict Verdict, string? Archived)> _incoming;
    private readonly Lock _lock = new();
    private readonly LinkedList<PageVerdict> _recent = new();
    private readonly List<Channel<PageVerdict>> _streams = [];
    private readonly ArchivePaths _archive;
    private readonly VerdictJournal _journal;
    private readonly HourlyStats _stats;
    private readonly Func<string?> _screenId;
    private readonly ILogger<VerdictFeed> _logger;
    private readonly ThumbnailRing? _thumbnails;
    private long _dropped;

    public VerdictFeed(
        int capacity, ArchivePaths archive, VerdictJournal journal, HourlyStats stats, Func<string?> screenId, ILogger<VerdictFeed> logger,
        ThumbnailRing? thumbnails = null)
    {
        _thumbnails = thumbnails;
        _archive = archive;
        _journal = journal;
        _stats = stats;
        _screenId = screenId;
        _logger = logger;
        _incoming = Channel.CreateBounded<(Verdict, string?)>(
            new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => Interlocked.Increment(ref _dropped));
    }

    /// <summary>Verdicts the page never saw because it fell behind (the pipeline did not wait for it).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public int Streams
    {
        get
        {
            lock (_lock)
            {
                return _streams.Count;
            }
        }
    }

    public void OnVerdict(Verdict verdict, string? archivedPath) => _incoming.Writer.TryWrite((verdict, archivedPath));

    public IReadOnlyList<PageVerdict> Recent()
    {
        lock (_lock)
        {
            return [.. _recent];
        }
    }

    /// <summary>A stream of page events from now on; dispose it to stop. Slow readers lose the oldest events.</summary>
    public Subscription Subscribe()
    {
        var channel = Channel.CreateBounded<PageVerdict>(new BoundedChannelOptions(StreamCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_lock)
        {
            _streams.Add(channel);
        }

        return new Subscription(this, channel);
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await foreach (var (verdict, archived) in _incoming.Reader.ReadAllAsync(cancellationToken))
        {
            try
            {
                Publish(verdict, archived);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
            {
                _logger.LogWarning("The page could not record verdict {Seq} for {Image}: {Reason}", verdict.Seq, verdict.Image, ex.Message);
            }
        }
    }

    internal void Publish(Verdict verdict, string? archived)
    {
        var page = PageVerdict.From(verdict, _archive.Relative(archived), _screenId());
        _stats.Add(verdict);

        // Before any stream hears of it: the page asks for the thumbnail as soon as the event arrives.
        _thumbnails?.Attach(verdict, page.Path);
        lock (_lock)
        {
            _recent.AddFirst(page);
            while (_recent.Count > RecentCount)
            {
                _recent.RemoveLast();
            }

            foreach (var stream in _streams)
            {
                stream.Writer.TryWrite(page);
            }
        }

        _journal.Write(page);
    }

    private void Remove(Channel<PageVerdict> channel)
    {
        lock (_lock)
        {
            _streams.Remove(channel);
        }

        channel.Writer.TryComplete();
    }

    public sealed class Subscription(VerdictFeed feed, Channel<PageVerdict> channel) : IDisposable
    {
        public ChannelReader<PageVerdict> Reader => channel.Reader;

        public void Dispose() => feed.Remove(channel);
    }
}
