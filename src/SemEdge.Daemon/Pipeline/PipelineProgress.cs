namespace SemEdge.Pipeline;

/// <summary>
/// What the pipeline is doing right now: whether the models are warm (READY=1 waits for that), which images are
/// being inspected and since when (the watchdog stops pinging when the oldest takes too long), and the queue depth.
/// </summary>
public sealed class PipelineProgress(TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<long, (string Image, long Since)> _inFlight = [];
    private long _nextId;
    private int _queued;

    /// <summary>Completes once the models are loaded and warmed and the pipeline accepts images.</summary>
    public Task Ready => _ready.Task;

    public int Queued => Volatile.Read(ref _queued);

    public void MarkReady() => _ready.TrySetResult();

    public void Enqueued() => Interlocked.Increment(ref _queued);

    public void Dequeued() => Interlocked.Decrement(ref _queued);

    /// <returns>The id to pass to <see cref="Finished"/>.</returns>
    public long Started(string image)
    {
        lock (_lock)
        {
            var id = _nextId++;
            _inFlight[id] = (image, time.GetTimestamp()); // monotonic: a clock step must not fake (or hide) a stall
            return id;
        }
    }

    public void Finished(long id)
    {
        lock (_lock)
        {
            _inFlight.Remove(id);
        }
    }

    /// <summary>The image in flight the longest and for how long, or null when idle.</summary>
    public (string Image, TimeSpan Elapsed)? InFlight()
    {
        lock (_lock)
        {
            if (_inFlight.Count == 0)
            {
                return null;
            }

            var oldest = _inFlight.Values.MinBy(f => f.Since);
            return (oldest.Image, time.GetElapsedTime(oldest.Since));
        }
    }
}
