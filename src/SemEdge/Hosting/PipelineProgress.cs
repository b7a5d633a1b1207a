namespace SemEdge.Hosting;

/// <summary>
/// What the pipeline is doing right now: whether the models are warm (READY=1 waits for that), which image is
/// being inspected and since when (the watchdog stops pinging when that takes too long), and the queue depth.
/// </summary>
public sealed class PipelineProgress(TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _current;
    private long _since;
    private int _queued;

    /// <summary>Completes once the models are loaded and warmed and the pipeline accepts images.</summary>
    public Task Ready => _ready.Task;

    public int Queued => Volatile.Read(ref _queued);

    public void MarkReady() => _ready.TrySetResult();

    public void Enqueued() => Interlocked.Increment(ref _queued);

    public void Dequeued() => Interlocked.Decrement(ref _queued);

    public void Started(string image)
    {
        lock (_lock)
        {
            _current = image;
            _since = time.GetTimestamp(); // monotonic: a clock step must not fake (or hide) a stall
        }
    }

    public void Finished()
    {
        lock (_lock)
        {
            _current = null;
        }
    }

    /// <summary>The image in flight and for how long, or null when idle.</summary>
    public (string Image, TimeSpan Elapsed)? InFlight()
    {
        lock (_lock)
        {
            return _current is null ? null : (_current, time.GetElapsedTime(_since));
        }
    }
}
