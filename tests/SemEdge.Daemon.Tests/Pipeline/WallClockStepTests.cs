using System.Device.Gpio;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SemEdge.Actuation;
using SemEdge.Decision;
using SemEdge.Ingest;
using SemEdge.Pipeline;
using SemEdge.Publishing;
using SemEdge.Telemetry;
using SemEdge.Tests.Actuation;
using SemEdge.Tests.Ingest;
using SemEdge.Tests.Publishing;

namespace SemEdge.Tests.Hosting;

/// <summary>
/// A board without an RTC battery steps its wall clock at the first NTP sync (issue 12 item 3). Every duration
/// must run on the monotonic clock, so these tests step the wall clock by weeks, both ways, while the monotonic
/// clock runs on, and check the heartbeat, the reject pulse, file readiness and the watchdog.
/// </summary>
public sealed class WallClockStepTests : IDisposable
{
    private static readonly DateTime Mtime = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    [Theory]
    [InlineData(-31)]
    [InlineData(31)]
    public async Task Reject_pulse_keeps_its_width_when_the_wall_clock_steps(int days)
    {
        var time = new SteppingFakeTime();
        var chips = new List<RecordingGpioDriver>();
        using var lines = new RejectLines(
            new GpioOptions { Driver = GpioDriverKind.Libgpiod, Reject = new GpioPulseLineOptions { Chip = 0, Line = 17, Pulse = TimeSpan.FromMilliseconds(50) } },
            chip =>
            {
                var driver = new RecordingGpioDriver(chip, time);
                chips.Add(driver);
                return driver;
            },
            time,
            NullLogger<RejectLines>.Instance);
        await lines.SignalAsync(Verdicts.Make("w.tif", VerdictAction.Reject, time.GetUtcNow()), default);
        Assert.Equal(PinValue.High, chips[0].Level(17));

        time.StepWallClock(TimeSpan.FromDays(days));
        time.Advance(TimeSpan.FromMilliseconds(49));
        await Task.Delay(150);
        Assert.Equal(PinValue.High, chips[0].Level(17));

        time.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.TrueAsync(() => chips[0].Level(17) == PinValue.Low, "reject line released after 50 monotonic ms");
    }

    [Fact]
    public void A_forward_step_does_not_make_a_file_that_is_still_being_written_ready()
    {
        var time = new SteppingFakeTime();
        var tracker = new ReadinessTracker(TimeSpan.FromSeconds(1), time);
        Assert.Empty(tracker.ObserveNames([new FileSnapshot("a.png", 10, Mtime)]));

        time.StepWallClock(TimeSpan.FromDays(31));
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Empty(tracker.ObserveNames([new FileSnapshot("a.png", 10, Mtime)]));

        time.Advance(TimeSpan.FromMilliseconds(900));
        Assert.Equal(["a.png"], tracker.ObserveNames([new FileSnapshot("a.png", 10, Mtime)]));
    }

    [Fact]
    public void A_backward_step_does_not_hold_a_finished_file_back()
    {
        var time = new SteppingFakeTime();
        var tracker = new ReadinessTracker(TimeSpan.FromSeconds(1), time);
        Assert.Empty(tracker.ObserveNames([new FileSnapshot("a.png", 10, Mtime)]));

        time.StepWallClock(TimeSpan.FromDays(-31));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(["a.png"], tracker.ObserveNames([new FileSnapshot("a.png", 10, Mtime)]));
    }

    [Theory]
    [InlineData(-31)]
    [InlineData(31)]
    public async Task Watchdog_sees_a_stall_by_monotonic_time_only(int days)
    {
        var socketPath = _root.Combine("notify.sock");
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint(socketPath));
        var time = new SteppingFakeTime();
        var progress = new PipelineProgress(time);
        var notifications = NotifierAt.Notifications(socketPath, progress, time);

        progress.Started("slow.png");
        time.StepWallClock(TimeSpan.FromDays(days));
        time.Advance(TimeSpan.FromSeconds(1));
        notifications.Tick();
        Assert.StartsWith("WATCHDOG=1\n", await ReceiveAsync(systemd));

        time.Advance(TimeSpan.FromSeconds(30));
        notifications.Tick();
        Assert.Equal("STATUS=stalled: slow.png in inspection for 31 s", await ReceiveAsync(systemd));
    }

    [Fact]
    public async Task Heartbeat_keeps_beating_after_the_wall_clock_steps_back_a_month()
    {
        await using var broker = await Mosquitto.StartAsync(_root.Path);
        await using var watcher = await MqttProbe.ConnectAsync(broker.Port, "fab/cell-7/heartbeat");
        using var outbox = new VerdictOutbox(
            Options.Create(new OutboxOptions { Path = _root.Combine("outbox") }), NullLogger<VerdictOutbox>.Instance);
        var time = new SteppedSystemClock();
        using var publisher = new MqttPublisher(
            Options.Create(new MqttOptions
            {
                Mode = MqttMode.External,
                Host = "127.0.0.1",
                Port = broker.Port,
                NodeId = "cell-7",
                TopicPrefix = "fab",
                HeartbeatInterval = TimeSpan.FromSeconds(0.2),
                ReconnectMin = TimeSpan.FromSeconds(0.05),
                ReconnectMax = TimeSpan.FromSeconds(0.4),
            }),
            outbox,
            new PipelineCounters(),
            time,
            NullLogger<MqttPublisher>.Instance);
        await publisher.StartAsync(default);
        try
        {
            await Eventually.TrueAsync(() => watcher.Payloads("heartbeat").Count >= 2, "heartbeats before the step");
            time.WallOffset = TimeSpan.FromDays(-31);
            var before = watcher.Payloads("heartbeat").Count;
            await Eventually.TrueAsync(() => watcher.Payloads("heartbeat").Count >= before + 3, "heartbeats after a 31-day step back");
            Assert.StartsWith("{\"ts\":\"" + time.GetUtcNow().UtcDateTime.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture),
                watcher.Payloads("heartbeat")[^1], StringComparison.Ordinal);
        }
        finally
        {
            await publisher.StopAsync(default);
        }
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var length = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    /// <summary>
    /// A FakeTimeProvider whose wall clock can jump while its monotonic clock (GetTimestamp, timers) only moves
    /// with Advance: FakeTimeProvider.SetUtcNow would move both.
    /// </summary>
    private sealed class SteppingFakeTime : FakeTimeProvider
    {
        private TimeSpan _wallOffset;

        public SteppingFakeTime()
            : base(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero))
        {
        }

        public void StepWallClock(TimeSpan by)
        {
            var monotonicBefore = GetTimestamp();
            _wallOffset += by;
            Assert.Equal(monotonicBefore, GetTimestamp());
        }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + _wallOffset;

        // FakeTimeProvider derives its timestamp from GetUtcNow; keep it on the unstepped clock.
        public override long GetTimestamp() => base.GetUtcNow().UtcTicks;
    }

    /// <summary>The system clock with a settable wall-clock offset; timers and timestamps stay the system's.</summary>
    private sealed class SteppedSystemClock : TimeProvider
    {
        public TimeSpan WallOffset { get; set; }

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + WallOffset;
    }
}
