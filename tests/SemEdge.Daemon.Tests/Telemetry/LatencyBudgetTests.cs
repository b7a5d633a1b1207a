using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using SemEdge.Telemetry;

namespace SemEdge.Tests.Telemetry;

public class LatencyBudgetTests
{
    [Fact]
    public void The_line_gives_each_stage_from_seen_and_seen_itself_on_the_monotonic_clock()
    {
        // The watcher's event 12,345,678 ms into the fake monotonic clock (FakeTimeProvider's timestamps are its ticks).
        var time = new FakeTimeProvider(new DateTimeOffset(12_345_678 * TimeSpan.TicksPerMillisecond, TimeSpan.Zero));
        var logger = new FakeLogger<LatencyBudget>(new FakeLogCollector());
        var budget = new LatencyBudget(time, logger);
        var seen = time.GetTimestamp();
        var stages = LatencyBudget.Start(seen, seen + (time.TimestampFrequency / 10_000)); // ready 0.1 ms later
        stages[Stage.Claimed] = seen + (time.TimestampFrequency / 4_000);                 // claimed at 0.25 ms

        budget.Track(7, stages);
        time.Advance(TimeSpan.FromMilliseconds(3));
        budget.Acknowledged(7, "a.png");

        var line = Assert.Single(logger.Collector.GetSnapshot()).Message;
        Assert.Equal("stages seq=7 image=a.png ms-from-seen seen-at=12345678.000 ready=0.100 claimed=0.250 acknowledged=3.000", line);
    }

    [Fact]
    public void Nothing_is_kept_or_logged_below_debug()
    {
        var time = new FakeTimeProvider();
        var logger = new FakeLogger<LatencyBudget>(new FakeLogCollector());
        logger.ControlLevel(LogLevel.Debug, false);
        var budget = new LatencyBudget(time, logger);

        budget.Track(1, LatencyBudget.Start(time.GetTimestamp(), time.GetTimestamp()));
        budget.Acknowledged(1, "a.png");

        Assert.False(budget.Enabled);
        Assert.Empty(logger.Collector.GetSnapshot());
    }
}
