using Microsoft.Extensions.Time.Testing;
using SemEdge.Ingest;

namespace SemEdge.Tests.Ingest;

public class ReadinessTrackerTests
{
    private static readonly DateTime Mtime = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void File_written_in_place_is_ready_only_after_size_and_mtime_hold_for_the_stable_time()
    {
        var tracker = new ReadinessTracker(TimeSpan.FromSeconds(1), _time);
        Assert.Empty(tracker.ObserveNames([new FileSnapshot("a.png", 10, Mtime)]));
        _time.Advance(TimeSpan.FromMilliseconds(900));
        Assert.Empty(tracker.ObserveNames([new FileSnapshot("a.png", 10, Mtime)]));
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(["a.png"], tracker.ObserveNames([new FileSnapshot("a.png", 10, Mtime)]));
    }

    [Fact]
    public void Growing_file_restarts_the_stable_clock()
    {
        var tracker = new ReadinessTracker(TimeSpan.FromSeconds(1), _time);
        tracker.ObserveNames([new FileSnapshot("a.png", 10, Mtime)]);
        _time.Advance(TimeSpan.FromMilliseconds(800));
        Assert.Empty(tracker.ObserveNames([new FileSnapshot("a.png", 20, Mtime.AddSeconds(1))]));
        _time.Advance(TimeSpan.FromMilliseconds(800));
        Assert.Empty(tracker.ObserveNames([new FileSnapshot("a.png", 20, Mtime.AddSeconds(1))]));
        _time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Equal(["a.png"], tracker.ObserveNames([new FileSnapshot("a.png", 20, Mtime.AddSeconds(1))]));
    }

    [Fact]
    public void Touched_file_of_same_size_restarts_the_stable_clock()
    {
        var tracker = new ReadinessTracker(TimeSpan.FromSeconds(1), _time);
        tracker.ObserveNames([new FileSnapshot("a.png", 10, Mtime)]);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(tracker.ObserveNames([new FileSnapshot("a.png", 10, Mtime.AddTicks(1))]));
    }

    [Fact]
    public void Renamed_in_file_is_ready_at_once()
    {
        var tracker = new ReadinessTracker(TimeSpan.FromMinutes(1), _time);
        tracker.MarkRenamedIn("b.png");
        Assert.Equal(["b.png"], tracker.ObserveNames([new FileSnapshot("a.png", 10, Mtime), new FileSnapshot("b.png", 10, Mtime)]));
        Assert.Equal(1, tracker.Pending);
    }

    [Fact]
    public void Ready_files_come_out_in_arrival_order_not_name_order()
    {
        var tracker = new ReadinessTracker(TimeSpan.FromSeconds(1), _time);
        tracker.ObserveNames([new FileSnapshot("z.png", 1, Mtime)]);
        _time.Advance(TimeSpan.FromMilliseconds(10));
        tracker.ObserveNames([new FileSnapshot("z.png", 1, Mtime), new FileSnapshot("a.png", 1, Mtime)]);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(["z.png", "a.png"], tracker.ObserveNames([new FileSnapshot("a.png", 1, Mtime), new FileSnapshot("z.png", 1, Mtime)]));
    }

    [Fact]
    public void Vanished_file_is_forgotten()
    {
        var tracker = new ReadinessTracker(TimeSpan.FromSeconds(1), _time);
        tracker.ObserveNames([new FileSnapshot("a.png", 1, Mtime)]);
        tracker.ObserveNames([]);
        Assert.Equal(0, tracker.Pending);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Empty(tracker.ObserveNames([new FileSnapshot("a.png", 1, Mtime)]));
    }
}

internal static class ReadinessTrackerNames
{
    public static IReadOnlyList<string> ObserveNames(this ReadinessTracker tracker, IEnumerable<FileSnapshot> listing) =>
        [.. tracker.Observe(listing).Select(r => r.Name)];
}
