using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace SemEdge.Telemetry;

/// <summary>The stages of one image on its way from the drop folder to the PLC.</summary>
public enum Stage
{
    Seen,
    Ready,
    Claimed,

    /// <summary>Read, decoded and preprocessed by a decode worker.</summary>
    Decoded,

    /// <summary>Decided by the inference stage (models and decision policy), in claim order.</summary>
    Inferred,
    Durable,
    Published,
    Acknowledged,
}

/// <summary>
/// Where the time of each verdict goes: the monotonic timestamp of every <see cref="Stage"/>, kept from the
/// watcher's first event until the broker's PUBACK, then logged at debug level (category
/// <c>SemEdge.Telemetry.LatencyBudget</c>) as one line of offsets from "seen", which <c>scripts/measure-daemon</c>
/// turns into a per-stage p50/p99 table (<c>seen-at</c> gives the event's own monotonic time in ms). In memory
/// only; a restart forgets the stages of verdicts not yet sent.
/// </summary>
public sealed class LatencyBudget(TimeProvider time, ILogger<LatencyBudget> logger)
{
    private const int MaxTracked = 4096;
    private readonly ConcurrentDictionary<long, StageTimes> _bySeq = new();

    public bool Enabled => logger.IsEnabled(LogLevel.Debug);

    /// <summary>A new, empty record for one image.</summary>
    public static StageTimes Start(long seenAt, long readyAt)
    {
        var times = new StageTimes();
        times[Stage.Seen] = seenAt;
        times[Stage.Ready] = readyAt;
        return times;
    }

    /// <summary>Hands the stages of a durable verdict over to the publisher.</summary>
    public void Track(long seq, StageTimes times)
    {
        if (!Enabled)
        {
            return;
        }

        if (_bySeq.Count >= MaxTracked)
        {
            // Verdicts waiting out a broker outage: their latency is the outage, not worth the memory.
            _bySeq.Clear();
        }

        _bySeq[seq] = times;
    }

    public void Mark(long seq, Stage stage)
    {
        if (_bySeq.TryGetValue(seq, out var times))
        {
            times[stage] = time.GetTimestamp();
        }
    }

    /// <summary>Stamps the acknowledgement and logs the whole record.</summary>
    public void Acknowledged(long seq, string image)
    {
        if (!_bySeq.TryRemove(seq, out var times))
        {
            return;
        }

        times[Stage.Acknowledged] = time.GetTimestamp();
        var seen = times[Stage.Seen];
        // "seen" itself as a reading of the monotonic clock, in ms: on Linux the system TimeProvider reads
        // CLOCK_MONOTONIC, as Python's time.monotonic() does, so a measurement outside can place the watcher's event
        // after its own rename and the subscriber's arrival after "published", the two legs no stage covers.
        var parts = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"seen-at={seen * 1000.0 / time.TimestampFrequency:0.000}"),
        };
        foreach (var stage in Enum.GetValues<Stage>())
        {
            if (stage != Stage.Seen && times[stage] != 0)
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{stage.ToString().ToLowerInvariant()}={time.GetElapsedTime(seen, times[stage]).TotalMilliseconds:0.000}"));
            }
        }

        logger.LogDebug("stages seq={Seq} image={Image} ms-from-seen {Stages}", seq, image, string.Join(' ', parts));
    }
}

/// <summary>Monotonic timestamps (<see cref="TimeProvider.GetTimestamp"/>) by stage; 0 when not reached.</summary>
public sealed class StageTimes
{
    private readonly long[] _at = new long[Enum.GetValues<Stage>().Length];

    public long this[Stage stage]
    {
        get => Volatile.Read(ref _at[(int)stage]);
        set => Volatile.Write(ref _at[(int)stage], value);
    }
}
