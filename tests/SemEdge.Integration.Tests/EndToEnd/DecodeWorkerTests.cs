using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SemEdge.Decision;
using SemEdge.Imaging;
using SemEdge.Inference;
using SemEdge.Pipeline;
using SemEdge.Tests.Hosting;
using SemEdge.Tests.Platform;
using SemEdge.Tests.Publishing;

namespace SemEdge.Tests.EndToEnd;

/// <summary>
/// Issue 12, "scale with cores, keep the order": several decode workers in front of one inference stage. The
/// inspector is replaced at its seam by one the test scripts (which image's preparation waits for which), so the
/// workers finish out of claim order on purpose, whatever the machine's speed.
/// </summary>
[Collection(DaemonCollection.Name)]
public sealed class DecodeWorkerTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Images_decoded_out_of_order_are_inferred_one_at_a_time_and_recorded_in_claim_order_and_a_failed_decode_holds_up_nothing()
    {
        // a's decoding waits until e (the last image) is decoded, so the other workers overtake it; bad fails to decode.
        var inspector = new ScriptedInspector { HoldUntilPrepared = ("a.png", "e.png"), FailToDecode = "bad.png" };
        var recorded = new VerdictRecorder();
        await using var daemon = await StartAsync(inspector, recorded, workers: 3);

        await DropAndWaitForClaimAsync(daemon, "a.png", 1);
        await inspector.PrepareEntered("a.png").WaitAsync(Patience);
        string[] rest = ["bad.png", "b.png", "c.png", "d.png", "e.png"];
        for (var i = 0; i < rest.Length; i++)
        {
            // One at a time, each claimed before the next arrives: the claim order is the drop order.
            await DropAndWaitForClaimAsync(daemon, rest[i], i + 2);
        }

        await Eventually.TrueAsync(() => recorded.Verdicts.Count == 5 && daemon.Counters.Quarantined == 1, "five verdicts and one quarantined", 60);

        // e was decoded before a (the scripted hold), yet a decided first and the seqs follow the claim order.
        Assert.True(inspector.PreparedOrder.ToList().IndexOf("e.png") < inspector.PreparedOrder.ToList().IndexOf("a.png"));
        string[] decided = ["a.png", "b.png", "c.png", "d.png", "e.png"];
        Assert.Equal(decided, inspector.InferredOrder);
        Assert.Equal(decided, recorded.Verdicts.Select(v => v.Image));
        Assert.Equal(new long[] { 1, 2, 3, 4, 5 }, recorded.Verdicts.Select(v => v.Seq));
        Assert.Equal(1, inspector.MostInferencesAtOnce);
        Assert.True(File.Exists(Path.Combine(daemon.Quarantine, "bad.png")));
        Assert.Empty(Directory.GetFiles(daemon.Processing));
        Assert.Equal(5, Directory.GetFiles(daemon.Archive, "*.png", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public async Task A_clean_stop_cancels_the_decoding_in_progress_finishes_the_inference_and_hands_every_other_image_back()
    {
        // a is held in inference; b's decoding runs until it is cancelled; c, d and e are decoded and wait behind a.
        using var inference = new SemaphoreSlim(0);
        var inspector = new ScriptedInspector { InferenceGate = inference, DecodeUntilCancelled = "b.png" };
        var recorded = new VerdictRecorder();
        var daemon = await StartAsync(inspector, recorded, workers: 2);
        try
        {
            await DropAndWaitForClaimAsync(daemon, "a.png", 1);
            await inspector.InferenceEntered.Task.WaitAsync(Patience);
            string[] rest = ["b.png", "c.png", "d.png", "e.png"];
            for (var i = 0; i < rest.Length; i++)
            {
                await DropAndWaitForClaimAsync(daemon, rest[i], i + 2);
            }

            await inspector.PrepareEntered("b.png").WaitAsync(Patience);
            await Eventually.TrueAsync(() => inspector.PreparedOrder.Count == 4, "a, c, d and e decoded", 30);

            var stopping = daemon.Host.StopAsync();
            await inspector.DecodeCancelled.Task.WaitAsync(Patience);
            inference.Release(10);
            await stopping;
        }
        finally
        {
            daemon.Host.Dispose();
        }

        Assert.Equal(["a.png"], inspector.InferredOrder);
        Assert.Equal(["a.png"], recorded.Verdicts.Select(v => v.Image));
        Assert.Empty(Directory.GetFiles(daemon.Processing));
        Assert.Equal(["a.png"], Directory.GetFiles(daemon.Archive, "*.png", SearchOption.AllDirectories).Select(Path.GetFileName));
        Assert.Equal(["b.png", "c.png", "d.png", "e.png"], Directory.GetFiles(daemon.Drop, "*.png").Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    private Task<DaemonUnderTest> StartAsync(ScriptedInspector inspector, VerdictRecorder recorded, int workers) =>
        DaemonUnderTest.StartAsync(
            _root.Combine("daemon"),
            DaemonUnderTest.Embedded(FreePort.Next()),
            [$"--Pipeline:Workers={workers}", "--Pipeline:QueueCapacity=8"],
            configure: services =>
            {
                services.Replace(ServiceDescriptor.Singleton<IInspectorLoader>(new FakeInspectorLoader(inspector)));
                services.AddSingleton<IVerdictObserver>(recorded);
            });

    private static async Task DropAndWaitForClaimAsync(DaemonUnderTest daemon, string name, int claimed)
    {
        var temporary = Path.Combine(daemon.Drop, $".{name}.tmp");
        await File.WriteAllBytesAsync(temporary, [1, 2, 3]);
        File.Move(temporary, Path.Combine(daemon.Drop, name));
        await Eventually.TrueAsync(() => daemon.Counters.Claimed == claimed, $"{name} claimed", 30);
    }

    /// <summary>Verdicts in the order the pipeline reports them (after outbox, pulse and archive).</summary>
    private sealed class VerdictRecorder : IVerdictObserver
    {
        private readonly ConcurrentQueue<Verdict> _verdicts = new();

        public IReadOnlyList<Verdict> Verdicts => [.. _verdicts];

        public void OnVerdict(Verdict verdict, string? archivedPath) => _verdicts.Enqueue(verdict);
    }

    /// <summary>
    /// An inspector whose preparation (the decode workers' step) the test scripts, and that records the order of
    /// preparations and inferences and how many inferences ever ran at once.
    /// </summary>
    private sealed class ScriptedInspector : IInspector
    {
        private readonly ConcurrentDictionary<string, TaskCompletionSource> _prepareEntered = new();
        private readonly ConcurrentDictionary<string, TaskCompletionSource> _prepared = new();
        private readonly ConcurrentQueue<string> _preparedOrder = new();
        private readonly ConcurrentQueue<string> _inferredOrder = new();
        private int _inferring;
        private int _mostAtOnce;

        /// <summary>The first image's preparation finishes only after the second's has.</summary>
        public (string Image, string Until)? HoldUntilPrepared { get; init; }

        public string? FailToDecode { get; init; }

        /// <summary>This image's preparation runs until its cancellation token fires.</summary>
        public string? DecodeUntilCancelled { get; init; }

        public SemaphoreSlim? InferenceGate { get; init; }

        public TaskCompletionSource InferenceEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource DecodeCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ModelAnnouncement Announcement { get; } = new("scripted-classifier", "1", "fake00000000", "cpu", ["clean", "bridge"], null);

        public IReadOnlyCollection<string> PreparedOrder => [.. _preparedOrder];

        public IReadOnlyList<string> InferredOrder => [.. _inferredOrder];

        public int MostInferencesAtOnce => Volatile.Read(ref _mostAtOnce);

        public Task PrepareEntered(string image) => Completion(_prepareEntered, image).Task;

        public PreparedImage Prepare(string path, CancellationToken cancellationToken)
        {
            var image = Path.GetFileName(path);
            Completion(_prepareEntered, image).TrySetResult();
            if (HoldUntilPrepared is { } hold && hold.Image == image)
            {
                Completion(_prepared, hold.Until).Task.Wait(Patience, cancellationToken);
            }

            if (image == DecodeUntilCancelled)
            {
                try
                {
                    Task.Delay(Timeout.Infinite, cancellationToken).Wait(cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    DecodeCancelled.TrySetResult();
                    throw;
                }
            }

            if (image == FailToDecode)
            {
                throw new ImageRejectedException(ImageRejectReason.Corrupt, "PNG pixel data is corrupt (scripted)");
            }

            _preparedOrder.Enqueue(image);
            Completion(_prepared, image).TrySetResult();
            return new PreparedImage();
        }

        public Verdict Infer(PreparedImage image, string imageName)
        {
            var now = Interlocked.Increment(ref _inferring);
            try
            {
                InterlockedMax(ref _mostAtOnce, now);
                _inferredOrder.Enqueue(imageName);
                InferenceEntered.TrySetResult();
                InferenceGate?.Wait(Patience);
                return FakeInspector.Answer(imageName, Announcement);
            }
            finally
            {
                Interlocked.Decrement(ref _inferring);
            }
        }

        public void Dispose()
        {
        }

        private static TaskCompletionSource Completion(ConcurrentDictionary<string, TaskCompletionSource> all, string image) =>
            all.GetOrAdd(image, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

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
    }
}
