namespace SemEdge.Pipeline;

/// <summary>
/// The inference stage's turn-taking: items that the decode workers finish in any order are put back into claim order
/// (their ordinals, 0, 1, 2, ...), and one step (the models) runs on each in that order, one item at a time.
/// <para>The step runs on whichever thread finds it free. A worker with nothing left to decode runs it itself, right
/// after its own decoding: at a steady rate the machine idles between images, and waking the stage's own thread cost
/// as much as the inference (about 0.4 ms against 0.2 ms on the 2-core machine). A worker that has more images waiting
/// hands the item to the stage's own thread instead and goes on decoding, so in a burst decoding and inference still
/// overlap.</para>
/// </summary>
/// <typeparam name="T">The pipeline's unit of work.</typeparam>
internal sealed class InOrderStage<T> : IDisposable
    where T : class
{
    private readonly Func<T, long> _ordinal;
    private readonly Action<T> _step;
    private readonly Lock _gate = new();
    private readonly Dictionary<long, T> _waiting = [];
    private readonly SemaphoreSlim _handedOver = new(0);
    private long _next;
    private bool _running;
    private bool _complete;

    /// <param name="ordinal">The item's place in claim order.</param>
    /// <param name="step">Runs on every item in order, on one thread at a time; passes the item on itself.</param>
    public InOrderStage(Func<T, long> ordinal, Action<T> step)
    {
        _ordinal = ordinal;
        _step = step;
    }

    /// <summary>Adds a finished item; with <paramref name="runHere"/> the calling thread runs the step when it is free.</summary>
    /// <param name="stop">Once cancelled, the step runs on no further item (the one in progress finishes).</param>
    public void Add(T item, bool runHere, CancellationToken stop)
    {
        lock (_gate)
        {
            _waiting.Add(_ordinal(item), item);
            if (_running)
            {
                return; // the thread running the step takes it in its turn
            }

            if (!runHere)
            {
                WakeStageThread();
                return;
            }

            _running = true;
        }

        RunInOrder(stop);
    }

    /// <summary>No more items will be added: called once, after the last worker has returned.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _complete = true;
            WakeStageThread();
        }
    }

    /// <summary>
    /// The stage's own thread: runs the step on what workers hand over until <see cref="Complete"/>, then returns, in
    /// order, what was added but never run (only after a stop, or behind an item that never came).
    /// </summary>
    public IReadOnlyList<T> RunHandedOver(CancellationToken stop)
    {
        var last = false;
        while (!last)
        {
            _handedOver.Wait(CancellationToken.None);
            lock (_gate)
            {
                last = _complete;
                if (_running)
                {
                    continue; // a worker runs the step; it takes what was handed over in its turn
                }

                _running = true;
            }

            RunInOrder(stop);
        }

        lock (_gate)
        {
            var left = _waiting.OrderBy(pair => pair.Key).Select(pair => pair.Value).ToList();
            _waiting.Clear();
            return left;
        }
    }

    public void Dispose() => _handedOver.Dispose();

    /// <summary>Runs the step on the next items in order until the next one has not arrived; the caller holds the turn.</summary>
    private void RunInOrder(CancellationToken stop)
    {
        var holding = true;
        try
        {
            while (true)
            {
                T? item;
                lock (_gate)
                {
                    if (stop.IsCancellationRequested || !_waiting.Remove(_next, out item))
                    {
                        _running = false;
                        holding = false;
                        return;
                    }

                    _next++;
                }

                _step(item);
            }
        }
        finally
        {
            if (holding)
            {
                // The step threw: the pipeline is failing, but nobody must wait for a turn that never ends.
                lock (_gate)
                {
                    _running = false;
                }
            }
        }
    }

    /// <summary>One pending wake is enough: the stage's thread takes everything waiting when it runs. Under the gate.</summary>
    private void WakeStageThread()
    {
        if (_handedOver.CurrentCount == 0)
        {
            _handedOver.Release();
        }
    }
}
