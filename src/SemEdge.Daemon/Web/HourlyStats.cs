using System.Globalization;
using SemEdge.Decision;

namespace SemEdge.Web;

/// <summary>
/// Per-minute counts of the last hour (by class and action, with the summed confidence): the health panel's rates
/// and the drift chart. Minutes are wall-clock minutes, for people to read; the ring holds the last 60.
/// </summary>
public sealed class HourlyStats(TimeProvider time)
{
    private const int Minutes = 60;
    private readonly Lock _lock = new();
    private readonly Minute?[] _ring = new Minute?[Minutes];

    public void Add(Verdict verdict)
    {
        var minute = time.GetUtcNow().ToUnixTimeSeconds() / 60;
        lock (_lock)
        {
            var slot = (int)(minute % Minutes);
            if (_ring[slot] is not { } bucket || bucket.Index != minute)
            {
                bucket = new Minute(minute);
                _ring[slot] = bucket;
            }

            bucket.Add(verdict);
        }
    }

    /// <summary>Images per second over the last full minute and the one running (at most 120 s).</summary>
    public double ImagesPerSecond()
    {
        var now = time.GetUtcNow();
        var minute = now.ToUnixTimeSeconds() / 60;
        lock (_lock)
        {
            var count = Live(minute).Where(b => b.Index >= minute - 1).Sum(b => b.Total);
            var seconds = 60 + (now.ToUnixTimeSeconds() % 60) + 1;
            return Math.Round(count / (double)seconds, 2);
        }
    }

    public (int Total, IReadOnlyList<ClassRates> Classes) LastHour()
    {
        var minute = time.GetUtcNow().ToUnixTimeSeconds() / 60;
        lock (_lock)
        {
            var live = Live(minute).ToList();
            var classes = live.SelectMany(b => b.ByClass).GroupBy(kv => kv.Key, kv => kv.Value)
                .Select(g =>
                {
                    var count = g.Sum(c => c.Count);
                    return new ClassRates(
                        g.Key,
                        count,
                        Math.Round(g.Sum(c => c.Rejects) / (double)count, 4),
                        Math.Round(g.Sum(c => c.Reviews) / (double)count, 4),
                        Math.Round(g.Sum(c => c.Confidence) / count, 4));
                })
                .OrderByDescending(c => c.Count)
                .ThenBy(c => c.Label, StringComparer.Ordinal)
                .ToList();
            return (live.Sum(b => b.Total), classes);
        }
    }

    public IReadOnlyList<ChartMinute> Chart()
    {
        var minute = time.GetUtcNow().ToUnixTimeSeconds() / 60;
        lock (_lock)
        {
            return [.. Live(minute).OrderBy(b => b.Index).Select(b => new ChartMinute(
                DateTimeOffset.FromUnixTimeSeconds(b.Index * 60).UtcDateTime.ToString("HH:mm", CultureInfo.InvariantCulture),
                b.ByClass.ToDictionary(kv => kv.Key, kv => kv.Value.Count),
                b.Total == 0 ? 0 : Math.Round(b.ByClass.Values.Sum(c => c.Confidence) / b.Total, 4)))];
        }
    }

    private IEnumerable<Minute> Live(long minute) =>
        _ring.OfType<Minute>().Where(b => b.Index > minute - Minutes && b.Index <= minute);

    private sealed class Minute(long index)
    {
        public long Index { get; } = index;

        public int Total { get; private set; }

        public Dictionary<string, ClassCount> ByClass { get; } = new(StringComparer.Ordinal);

        public void Add(Verdict verdict)
        {
            Total++;
            if (!ByClass.TryGetValue(verdict.Label, out var c))
            {
                c = new ClassCount();
                ByClass[verdict.Label] = c;
            }

            c.Count++;
            c.Confidence += double.IsFinite(verdict.Confidence) ? verdict.Confidence : 0;
            c.Rejects += verdict.Action == VerdictAction.Reject ? 1 : 0;
            c.Reviews += verdict.Action == VerdictAction.Review ? 1 : 0;
        }
    }

    private sealed class ClassCount
    {
        public int Count { get; set; }

        public double Confidence { get; set; }

        public int Rejects { get; set; }

        public int Reviews { get; set; }
    }
}
