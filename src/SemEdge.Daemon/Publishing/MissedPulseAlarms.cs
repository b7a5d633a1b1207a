using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SemEdge.Decision;
using SemEdge.Ingest;
using SemEdge.Publishing;

namespace SemEdge.Publishing;

/// <summary>
/// Reject (or review) verdicts that were made durable but whose line was never pulsed: the daemon died between
/// the outbox and the pulse. By the time it restarts the part has moved on, so a late pulse would hit the wrong
/// part; instead the PLC is told on <c>PREFIX/NODE/alarm</c> (QoS 1) that the gate did not fire for seq N, so
/// the part can be pulled downstream. Each alarm is a file in <c>{Outbox:Path}/alarms/</c>, written and fsync'd
/// before the image is archived and removed only after the broker's PUBACK: an alarm survives crashes and outages.
/// </summary>
public sealed class MissedPulseAlarms
{
    private readonly string _folder;
    private readonly TimeProvider _time;
    private readonly ILogger<MissedPulseAlarms> _logger;
    private readonly Lock _lock = new();
    private TaskCompletionSource _raised = NewSignal();

    public MissedPulseAlarms(IOptions<OutboxOptions> outbox, TimeProvider time, ILogger<MissedPulseAlarms> logger)
    {
        _folder = Path.Combine(Path.GetFullPath(outbox.Value.Path), "alarms");
        _time = time;
        _logger = logger;
    }

    /// <summary>Completes when an alarm was raised after the call.</summary>
    public Task Raised
    {
        get
        {
            lock (_lock)
            {
                return _raised.Task;
            }
        }
    }

    /// <summary>Records the alarm durably.</summary>
    public void Raise(Verdict verdict)
    {
        Directory.CreateDirectory(_folder);
        var alarm = new MissedPulseAlarm(
            "missed-pulse",
            verdict.Seq,
            VerdictPayload.Limit(verdict.Image, 300, hashSuffix: true),
            VerdictPayload.ActionName(verdict.Action),
            verdict.Timestamp.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            "verdict recorded but the daemon stopped before the line was pulsed; the part passed the gate");
        var path = Path.Combine(_folder, FileName(verdict.Seq));
        var temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(file, alarm, AlarmJsonContext.Default.MissedPulseAlarm);
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        DirectorySync.Flush(_folder);
        _logger.LogError(
            "Missed {Action} pulse for {Image} (seq {Seq}): the verdict was recorded but the line never fired; alarm raised for the PLC",
            alarm.Action, verdict.Image, verdict.Seq);
        lock (_lock)
        {
            var fired = _raised;
            _raised = NewSignal();
            fired.TrySetResult();
        }
    }

    /// <summary>Alarms not yet acknowledged by the broker, oldest seq first: (seq, payload).</summary>
    public IReadOnlyList<(long Seq, byte[] Payload)> Pending()
    {
        if (!Directory.Exists(_folder))
        {
            return [];
        }

        var pending = new List<(long, byte[])>();
        foreach (var path in Directory.EnumerateFiles(_folder, "missed-*.json"))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            if (long.TryParse(name["missed-".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
            {
                pending.Add((seq, File.ReadAllBytes(path)));
            }
        }

        return [.. pending.OrderBy(p => p.Item1)];
    }

    /// <summary>The broker acknowledged the alarm for <paramref name="seq"/>.</summary>
    public void Delivered(long seq) => File.Delete(Path.Combine(_folder, FileName(seq)));

    private static string FileName(long seq) => string.Create(CultureInfo.InvariantCulture, $"missed-{seq:D12}.json");

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>The <c>alarm</c> message: one flat JSON object, like the verdict.</summary>
public sealed record MissedPulseAlarm(string Alarm, long Seq, string Image, string Action, string Ts, string RaisedTs, string Detail);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(MissedPulseAlarm))]
internal sealed partial class AlarmJsonContext : JsonSerializerContext;
