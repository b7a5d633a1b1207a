using System.Globalization;
using System.Text.Json.Serialization;
using SemEdge.Decision;
using SemEdge.Publishing;

namespace SemEdge.Web;

/// <summary>
/// A verdict as the page shows it: the fields of the PLC's verdict message, where the image lies in the archive,
/// and what the screen decided (<c>clean</c>: the screen passed it and the classifier never ran; <c>defect</c>: the
/// screen sent it on to the classifier; <c>off</c>: no screen).
/// </summary>
public sealed record PageVerdict(
    long Seq,
    string Image,
    string Ts,
    int ClassId,
    string Label,
    double Confidence,
    string Action,
    string Model,
    string Sha,
    string Provider,
    double LatencyMs,
    string? Path,
    string Screen)
{
    public static PageVerdict From(Verdict verdict, string? archivePath, string? screenId) => new(
        verdict.Seq,
        verdict.Image,
        verdict.Timestamp.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
        verdict.ClassId,
        verdict.Label,
        double.IsFinite(verdict.Confidence) ? Math.Round(verdict.Confidence, 4) : 0,
        VerdictPayload.ActionName(verdict.Action),
        verdict.ModelId,
        verdict.ModelSha,
        verdict.Provider,
        Math.Round(verdict.LatencyMs, 2),
        archivePath,
        screenId is null ? "off" : verdict.ModelId == screenId ? "clean" : "defect");
}

/// <summary>One class over the last hour.</summary>
public sealed record ClassRates(string Label, int Count, double RejectRate, double ReviewRate, double MeanConfidence);

/// <summary>One minute of the chart: verdicts per class and their mean confidence.</summary>
public sealed record ChartMinute(string Minute, IReadOnlyDictionary<string, int> Counts, double MeanConfidence);

public sealed record GpioLineState(string Line, bool Active);

public sealed record ModelState(string Id, string Version, string Sha, string Provider, string? ScreenId, IReadOnlyList<string> Classes);

public sealed record WatchdogState(bool Notify, double? IntervalSeconds, string State, string? InFlight, double InFlightSeconds);

public sealed record HealthReport(
    string Now,
    double ImagesPerSecond,
    int LastHour,
    IReadOnlyList<ClassRates> Classes,
    IReadOnlyList<ChartMinute> Chart,
    long Inspected,
    long Passed,
    long Rejected,
    long Reviewed,
    long Quarantined,
    long Published,
    int Queue,
    int Outbox,
    bool Broker,
    ModelState? Model,
    IReadOnlyList<GpioLineState> Gpio,
    WatchdogState Watchdog,
    long FeedDropped,
    int Streams);

public sealed record WhoAmI(string Name, string Role, IReadOnlyList<string> Classes);

public sealed record DayEntry(string Day, IReadOnlyDictionary<string, int> Counts);

public sealed record ArchiveEntry(string Path, string Name, long Bytes, string Modified, PageVerdict? Verdict, string? LabelledAs);

public sealed record LabelRequest(string? Path, string? Label);

public sealed record LabelResult(string File, string Split, string Label, string LabelledBy);

public sealed record ErrorReply(string Error);

/// <summary>Generated serializers: the bundle is trimmed, so no reflection-based JSON.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(PageVerdict))]
[JsonSerializable(typeof(IReadOnlyList<PageVerdict>))]
[JsonSerializable(typeof(HealthReport))]
[JsonSerializable(typeof(WhoAmI))]
[JsonSerializable(typeof(IReadOnlyList<DayEntry>))]
[JsonSerializable(typeof(IReadOnlyList<ArchiveEntry>))]
[JsonSerializable(typeof(LabelRequest))]
[JsonSerializable(typeof(LabelResult))]
[JsonSerializable(typeof(ErrorReply))]
internal sealed partial class WebJsonContext : JsonSerializerContext;
