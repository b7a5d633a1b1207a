using System.Collections.Concurrent;
using SemEdge.Pipeline;
using SemEdge.Tests.Publishing;

namespace SemEdge.Tests.Pipeline;

public sealed class InOrderStageTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_worker_that_finds_the_stage_free_runs_the_step_itself_in_claim_order()
    {
        var ran = new List<(long Item, int Thread)>();
        using var stage = new InOrderStage<Item>(item => item.Ordinal, item => ran.Add((item.Ordinal, Environment.CurrentManagedThreadId)));
        var stageThread = Task.Factory.StartNew(() => stage.RunHandedOver(CancellationToken.None), TaskCreationOptions.LongRunning);
        var worker = Environment.CurrentManagedThreadId;

        // 1 arrives before 0: it waits; 0 then runs here, and 1 behind it, on this thread.
        stage.Add(new Item(1), runHere: true, CancellationToken.None);
        Assert.Empty(ran);
        stage.Add(new Item(0), runHere: true, CancellationToken.None);
        Assert.Equal([(0L, worker), (1L, worker)], ran);

        stage.Complete();
        Assert.Empty(await stageThread.WaitAsync(Patience));
    }

    [Fact]
    public async Task Handed_over_items_run_on_the_stage_thread_in_order_one_at_a_time_whoever_adds_them()
    {
        const int Producers = 4;
        const int PerProducer = 2_000;
        var ran = new ConcurrentQueue<long>();
        var running = 0;
        var mostAtOnce = 0;
        var stageThreadId = 0;
        var onStageThread = 0;
        using var stage = new InOrderStage<Item>(item => item.Ordinal, item =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref mostAtOnce, now);
            if (Environment.CurrentManagedThreadId == Volatile.Read(ref stageThreadId))
            {
                Interlocked.Increment(ref onStageThread);
            }

            ran.Enqueue(item.Ordinal);
            Thread.SpinWait(50);
            Interlocked.Decrement(ref running);
        });
        var stageThread = Task.Factory.StartNew(
            () =>
            {
                Volatile.Write(ref stageThreadId, Environment.CurrentManagedThreadId);
                return stage.RunHandedOver(CancellationToken.None);
            },
            TaskCreationOptions.LongRunning);
        await Eventually.TrueAsync(() => Volatile.Read(ref stageThreadId) != 0, "the stage thread started");

        // Producer p adds every Producers-th ordinal, so the ordinals arrive interleaved and out of order;
        // some run the step themselves, some hand over.
        var producers = Enumerable.Range(0, Producers).Select(p => Task.Factory.StartNew(
            () =>
            {
                var random = new Random(p);
                for (var i = 0; i < PerProducer; i++)
                {
                    stage.Add(new Item(((long)i * Producers) + p), runHere: random.Next(3) == 0, CancellationToken.None);
                }
            },
            TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(producers).WaitAsync(Patience);
        stage.Complete();

        Assert.Empty(await stageThread.WaitAsync(Patience));
        Assert.Equal(Enumerable.Range(0, Producers * PerProducer).Select(i => (long)i), ran);
        Assert.Equal(1, mostAtOnce);
        Assert.True(onStageThread > 0, "some handed-over items ran on the stage's thread");
    }

    [Fact]
    public async Task After_a_stop_the_step_in_progress_finishes_and_the_rest_is_returned_in_order()
    {
        using var inStep = new SemaphoreSlim(0);
        using var release = new SemaphoreSlim(0);
        using var stop = new CancellationTokenSource();
        var ran = new ConcurrentQueue<long>();
        using var stage = new InOrderStage<Item>(item => item.Ordinal, item =>
        {
            inStep.Release();
            release.Wait(Patience);
            ran.Enqueue(item.Ordinal);
        });
        var stageThread = Task.Factory.StartNew(() => stage.RunHandedOver(stop.Token), TaskCreationOptions.LongRunning);

        stage.Add(new Item(0), runHere: false, stop.Token);
        Assert.True(await inStep.WaitAsync(Patience), "0 handed over and running on the stage's thread");
        stage.Add(new Item(2), runHere: true, stop.Token);
        stage.Add(new Item(1), runHere: true, stop.Token); // the step is busy: both wait their turn
        stop.Cancel();
        release.Release();
        stage.Complete();

        var left = await stageThread.WaitAsync(Patience);
        Assert.Equal([0L], ran);
        Assert.Equal([1L, 2L], left.Select(item => item.Ordinal));
    }

    [Fact]
    public async Task Items_behind_one_that_never_came_are_returned_not_run()
    {
        var ran = new ConcurrentQueue<long>();
        using var stage = new InOrderStage<Item>(item => item.Ordinal, item => ran.Enqueue(item.Ordinal));
        var stageThread = Task.Factory.StartNew(() => stage.RunHandedOver(CancellationToken.None), TaskCreationOptions.LongRunning);

        stage.Add(new Item(0), runHere: true, CancellationToken.None);
        stage.Add(new Item(2), runHere: false, CancellationToken.None); // 1 was handed back by its worker (a stop)
        stage.Add(new Item(3), runHere: true, CancellationToken.None);
        stage.Complete();

        var left = await stageThread.WaitAsync(Patience);
        Assert.Equal([0L], ran);
        Assert.Equal([2L, 3L], left.Select(item => item.Ordinal));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen)
        {
            var previous = Interlocked.CompareExchange(ref target, value, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    private sealed record Item(long Ordinal);
}
