using SemEdge.Decision;

namespace SemEdge.Inference.Benchmarking;

/// <summary>
/// Times the real <see cref="Inspector"/> pipeline (decode → preprocess → cascade) on images held in memory, and
/// the classifier alone on a preloaded tensor in the same process, so the two can be compared directly. Counts
/// managed allocations and collections over the measured loop. Prints nothing: the caller renders the report.
/// </summary>
public sealed class PipelineBenchmark(int iterations, int rawRuns, TimeProvider? time = null)
{
    private const int WarmUpCalls = 40;
    private static readonly TimeSpan WarmUpTime = TimeSpan.FromMilliseconds(500);

    // The first configuration also pays for the process's tier-0 code: the runtime delays tier-1 compiles while
    // new methods keep appearing, so 500 ms left preprocessing at 4 ms instead of 0.3 ms in the first row.
    private static readonly TimeSpan FirstWarmUpTime = TimeSpan.FromSeconds(3);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private bool _processWarm;

    /// <summary>
    /// One inspector per <see cref="BenchConfig.Streams"/>. With several, they run side by side, each on its own thread
    /// over the whole image group, started together after each has warmed up: images/s is all of them over the wall
    /// time of the slowest, so it shows what the cores give together (shared caches, memory, the host's scheduling),
    /// not one core times the count.
    /// </summary>
    public IReadOnlyList<BenchResult> Run(BenchConfig config, IReadOnlyList<BenchImage> images, CancellationToken cancellationToken)
    {
        var options = new InferenceOptions
        {
            ClassifierManifest = config.ClassifierManifest,
            ScreenManifest = config.ScreenManifest,
            Threads = config.Threads,
        };
        var inspectors = new List<Inspector>(config.Streams);
        try
        {
            for (var s = 0; s < Math.Max(1, config.Streams); s++)
            {
                inspectors.Add(Inspector.Create(options, new DecisionOptions(), time: _time));
            }

            var raw = RawInference(inspectors[0], images[0], cancellationToken);
            var results = new List<BenchResult>();
            foreach (var group in images.GroupBy(i => i.Group))
            {
                results.Add(inspectors.Count == 1
                    ? Measure(config, inspectors[0], group.Key, group.ToArray(), raw, cancellationToken)
                    : MeasureSideBySide(config, inspectors, group.Key, group.ToArray(), raw, cancellationToken));
            }

            return results;
        }
        finally
        {
            foreach (var inspector in inspectors)
            {
                inspector.Dispose();
            }
        }
    }

    private BenchResult Measure(BenchConfig config, Inspector inspector, string group, BenchImage[] images,
        (LatencyStats Stats, double AllocPerRun) raw, CancellationToken cancellationToken)
    {
        var warmUpTime = _processWarm ? WarmUpTime : FirstWarmUpTime;
        _processWarm = true;
        WarmUp(inspector, images, warmUpTime, cancellationToken);

        var inspections = new List<Inspection>(iterations * images.Length);
        var gc = GcCounts();
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var started = _time.GetTimestamp();
        for (var it = 0; it < iterations; it++)
        {
            foreach (var image in images)
            {
                cancellationToken.ThrowIfCancellationRequested();
                inspections.Add(inspector.Inspect(image.Bytes, image.Name, cancellationToken));
            }
        }

        var elapsed = _time.GetElapsedTime(started);
        return Summarize(config, group, inspector.Provider, streams: 1, inspections, elapsed,
            GC.GetAllocatedBytesForCurrentThread() - allocated, gc, raw);
    }

    /// <summary>
    /// Buffers grown to this size, ORT arenas, and enough calls and time for tiered JIT to replace the first quick
    /// code with optimised code (otherwise the first configuration measures the JIT).
    /// </summary>
    private void WarmUp(Inspector inspector, BenchImage[] images, TimeSpan minimum, CancellationToken cancellationToken)
    {
        var warmStart = _time.GetTimestamp();
        for (var i = 0; i < WarmUpCalls || _time.GetElapsedTime(warmStart) < minimum; i++)
        {
            var image = images[i % images.Length];
            inspector.Inspect(image.Bytes, image.Name, cancellationToken);
        }
    }

    private static (int Gen0, int Gen1, int Gen2) GcCounts() => (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));

    private static BenchResult Summarize(BenchConfig config, string group, string provider, int streams, List<Inspection> inspections,
        TimeSpan elapsed, long allocatedBytes, (int Gen0, int Gen1, int Gen2) gcBefore, (LatencyStats Stats, double AllocPerRun) raw)
    {
        var n = inspections.Count;
        var totalStats = LatencyStats.Of(inspections.Select(i => i.LatencyMs).ToList());
        var decodeStats = LatencyStats.Of(inspections.Select(i => i.DecodeMs).ToList());
        var gcAfter = GcCounts();
        return new BenchResult
        {
            Config = config.Name,
            Group = group,
            Format = config.Format,
            Cascade = config.ScreenManifest is not null,
            Threads = config.Threads,
            Streams = streams,
            Provider = provider,
            Images = n,
            Decode = decodeStats,
            Preprocess = LatencyStats.Of(inspections.Select(i => i.PreprocessMs).ToList()),
            Inference = LatencyStats.Of(inspections.Select(i => i.InferenceMs).ToList()),
            Total = totalStats,
            RawInference = raw.Stats,
            ImagesPerSecond = n / elapsed.TotalSeconds,
            PipelineOverRaw = totalStats.P50 / raw.Stats.P50,
            PipelineOverDecodePlusRaw = totalStats.P50 / (decodeStats.P50 + raw.Stats.P50),
            AllocatedBytesPerImage = allocatedBytes / (double)n,
            InferenceAllocatedBytesPerRun = raw.AllocPerRun,
            Gen0Collections = gcAfter.Gen0 - gcBefore.Gen0,
            Gen1Collections = gcAfter.Gen1 - gcBefore.Gen1,
            Gen2Collections = gcAfter.Gen2 - gcBefore.Gen2,
            ShortCircuitedShare = inspections.Count(i => i.ScreenShortCircuited) / (double)n,
        };
    }

    private BenchResult MeasureSideBySide(BenchConfig config, List<Inspector> inspectors, string group, BenchImage[] images,
        (LatencyStats Stats, double AllocPerRun) raw, CancellationToken cancellationToken)
    {
        var streams = inspectors.Count;
        var samples = new List<Inspection>[streams];
        var allocated = new long[streams];
        var failures = new Exception?[streams];
        using var warm = new CountdownEvent(streams);
        using var go = new ManualResetEventSlim();
        var threads = new Thread[streams];
        for (var s = 0; s < streams; s++)
        {
            var stream = s;
            threads[s] = new Thread(() =>
            {
                var signalled = false;
                try
                {
                    var inspector = inspectors[stream];
                    WarmUp(inspector, images, WarmUpTime, cancellationToken);

                    warm.Signal();
                    signalled = true;
                    go.Wait(cancellationToken);
                    var mine = new List<Inspection>(iterations * images.Length);
                    var before = GC.GetAllocatedBytesForCurrentThread();
                    for (var it = 0; it < iterations; it++)
                    {
                        // Each stream starts at its own place in the set, so they do not all decode one image at once.
                        for (var k = 0; k < images.Length; k++)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                            var image = images[(k + stream * images.Length / streams) % images.Length];
                            mine.Add(inspector.Inspect(image.Bytes, image.Name, cancellationToken));
                        }
                    }

                    allocated[stream] = GC.GetAllocatedBytesForCurrentThread() - before;
                    samples[stream] = mine;
                }
                catch (Exception ex)
                {
                    // Counted as ready all the same, so the others are not left waiting for a stream that failed.
                    failures[stream] = ex;
                    if (!signalled)
                    {
                        warm.Signal();
                    }
                }
            })
            { IsBackground = true, Name = $"bench stream {s}" };
            threads[s].Start();
        }

        warm.Wait(cancellationToken);
        var gc = GcCounts();
        var started = _time.GetTimestamp();
        go.Set();
        foreach (var thread in threads)
        {
            thread.Join();
        }

        var elapsed = _time.GetElapsedTime(started);
        if (failures.FirstOrDefault(f => f is not null) is { } failure)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }

        return Summarize(config, group, inspectors[0].Provider, streams, samples.SelectMany(s => s).ToList(), elapsed,
            allocated.Sum(), gc, raw);
    }

    /// <summary>The classifier alone on the tensor of one real image, preloaded once.</summary>
    private (LatencyStats Stats, double AllocPerRun) RawInference(Inspector inspector, BenchImage image, CancellationToken cancellationToken)
    {
        var classifier = inspector.Cascade.Classifier;
        var decoded = new Imaging.DecodedImage();
        new Imaging.ImageDecoder().Decode(image.Bytes, decoded);
        new Imaging.Preprocessor(classifier.Manifest.Preprocessing).Run(decoded, classifier.Input);
        for (var i = 0; i < 5; i++) classifier.Run();

        var samples = new double[rawRuns];
        var allocations = new long[rawRuns];
        for (var i = 0; i < rawRuns; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var t0 = _time.GetTimestamp();
            classifier.Run();
            samples[i] = _time.GetElapsedTime(t0).TotalMilliseconds;
            allocations[i] = GC.GetAllocatedBytesForCurrentThread() - allocated;
        }

        // The median run's bytes: what every run pays shows in it, while a one-off allocation the runtime makes
        // on this thread (tiered JIT promoting a method mid-loop, seen once on a loaded CI machine) does not.
        Array.Sort(allocations);
        return (LatencyStats.Of(samples), allocations[rawRuns / 2]);
    }

    /// <summary>
    /// The decoder the daemon uses (with its 8-bit grey PNG fast path) beside Skia alone, per image group: each
    /// image decoded by one and then the other in turn, so both see the same machine load.
    /// </summary>
    public IReadOnlyList<DecodeComparison> CompareDecoders(IReadOnlyList<BenchImage> images, CancellationToken cancellationToken)
    {
        var daemon = new Imaging.ImageDecoder();
        var skia = new Imaging.ImageDecoder(Imaging.ImageDecoder.DefaultMaxPixels, grey8FastPath: false);
        var (daemonImage, skiaImage) = (new Imaging.DecodedImage(), new Imaging.DecodedImage());
        var comparisons = new List<DecodeComparison>();
        foreach (var group in images.GroupBy(i => i.Group))
        {
            var set = group.ToArray();
            var warmStart = _time.GetTimestamp();
            for (var i = 0; i < WarmUpCalls || _time.GetElapsedTime(warmStart) < WarmUpTime; i++)
            {
                daemon.Decode(set[i % set.Length].Bytes, daemonImage);
                skia.Decode(set[i % set.Length].Bytes, skiaImage);
            }

            var (daemonMs, skiaMs) = (new List<double>(), new List<double>());
            for (var it = 0; it < iterations; it++)
            {
                foreach (var image in set)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var t0 = _time.GetTimestamp();
                    daemon.Decode(image.Bytes, daemonImage);
                    var t1 = _time.GetTimestamp();
                    skia.Decode(image.Bytes, skiaImage);
                    skiaMs.Add(_time.GetElapsedTime(t1).TotalMilliseconds);
                    daemonMs.Add(_time.GetElapsedTime(t0, t1).TotalMilliseconds);
                }
            }

            var (daemonStats, skiaStats) = (LatencyStats.Of(daemonMs), LatencyStats.Of(skiaMs));
            comparisons.Add(new DecodeComparison
            {
                Group = group.Key,
                Images = daemonMs.Count,
                DaemonPath = daemonStats,
                SkiaOnly = skiaStats,
                DaemonOverSkia = daemonStats.P50 / skiaStats.P50,
            });
        }

        return comparisons;
    }

    /// <summary>
    /// The one-thread cascade row on <paramref name="group"/> beside the one-thread single-stage row of the same
    /// format; null when either is missing.
    /// </summary>
    public static CascadeComparison? CascadeOnStream(IReadOnlyList<BenchResult> results, string group)
    {
        var cascade = results.FirstOrDefault(r => r.Group == group && r.Cascade && r.Threads == 1 && r.Streams == 1);
        var single = cascade is null ? null : results.FirstOrDefault(r => r.Group == group && !r.Cascade && r.Threads == 1 && r.Streams == 1 && r.Format == cascade.Format);
        if (cascade is null || single is null)
        {
            return null;
        }

        return new CascadeComparison
        {
            Group = group,
            Images = cascade.Images,
            SingleStage = single.Config,
            Cascade = cascade.Config,
            SingleStageMeanMs = single.Total.Mean,
            CascadeMeanMs = cascade.Total.Mean,
            SingleStageImagesPerSecond = single.ImagesPerSecond,
            CascadeImagesPerSecond = cascade.ImagesPerSecond,
            ScreenedShare = cascade.ShortCircuitedShare,
            CascadeOverSingleStage = cascade.Total.Mean / single.Total.Mean,
        };
    }

    /// <summary>For each image group, the stage with the largest p50 in <paramref name="results"/>' first configuration.</summary>
    public static IReadOnlyDictionary<string, string> SlowestStages(IReadOnlyList<BenchResult> results)
    {
        var slowest = new Dictionary<string, string>(StringComparer.Ordinal);
        if (results.Count == 0)
        {
            return slowest;
        }

        var first = results[0].Config;
        foreach (var r in results.Where(r => r.Config == first))
        {
            var stages = new (string Name, double P50)[] { ("decode", r.Decode.P50), ("preprocess", r.Preprocess.P50), ("inference", r.Inference.P50) };
            var top = stages.MaxBy(s => s.P50);
            slowest[r.Group] = $"{top.Name} ({top.P50:0.00} ms of {r.Total.P50:0.00} ms p50)";
        }

        return slowest;
    }
}
