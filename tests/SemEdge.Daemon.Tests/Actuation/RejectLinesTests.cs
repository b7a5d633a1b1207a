using System.Device.Gpio;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SemEdge.Actuation;
using SemEdge.Decision;
using SemEdge.Tests.Publishing;

namespace SemEdge.Tests.Actuation;

public sealed class RejectLinesTests
{
    private const int RejectLine = 17;
    private const int ReviewLine = 18;
    private const int ReadyLine = 5;
    private const int FaultLine = 6;
    private const int AlarmLine = 19;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));
    private readonly List<RecordingGpioDriver> _chips = [];

    [Fact]
    public void Lines_open_straight_at_their_safe_level_honouring_active_low()
    {
        using var lines = Create(Wiring(rejectActiveLow: true));

        var chip0 = Chip(0);
        Assert.Equal([new RecordingGpioDriver.Edge(RejectLine, PinValue.High, _time.GetUtcNow(), "open")], chip0.EdgesOf(RejectLine));
        Assert.Equal([new RecordingGpioDriver.Edge(ReviewLine, PinValue.Low, _time.GetUtcNow(), "open")], chip0.EdgesOf(ReviewLine));
        Assert.Equal(PinValue.Low, Chip(1).Level(ReadyLine));
        Assert.Equal(PinValue.High, Chip(1).Level(FaultLine));
        Assert.DoesNotContain(_chips.SelectMany(c => c.Edges), e => e.Kind != "open");
    }

    [Fact]
    public async Task One_controller_per_chip()
    {
        using var lines = Create(Wiring());
        await lines.SignalAsync(Verdict(VerdictAction.Pass), default);
        Assert.Equal([0, 1], _chips.Select(c => c.Chip).Order());
    }

    [Fact]
    public async Task Reject_pulse_has_the_configured_width_with_timestamped_edges()
    {
        using var lines = Create(Wiring(rejectActiveLow: true));
        var start = _time.GetUtcNow();
        await lines.SignalAsync(Verdict(VerdictAction.Reject), default);

        Assert.Equal(PinValue.Low, Chip(0).Level(RejectLine));
        _time.Advance(TimeSpan.FromMilliseconds(49));
        await Task.Delay(150);
        Assert.Equal(PinValue.Low, Chip(0).Level(RejectLine));

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.TrueAsync(() => Chip(0).Level(RejectLine) == PinValue.High, "reject line released");
        Assert.Equal(
            [(PinValue.High, start), (PinValue.Low, start), (PinValue.High, start.AddMilliseconds(50))],
            Chip(0).EdgesOf(RejectLine).Select(e => (e.Level, e.At)).Select(t => ((PinValue)t.Level!, t.At)));
        Assert.Equal([PinValue.Low], Chip(0).EdgesOf(ReviewLine).Select(e => (PinValue)e.Level!));
    }

    [Fact]
    public async Task Review_pulses_the_review_line_and_pass_drives_nothing()
    {
        using var lines = Create(Wiring());
        await lines.SignalAsync(Verdict(VerdictAction.Pass), default);
        await lines.SignalAsync(Verdict(VerdictAction.Review), default);

        Assert.Single(Chip(0).EdgesOf(RejectLine));
        Assert.Equal(PinValue.High, Chip(0).Level(ReviewLine));
        _time.Advance(TimeSpan.FromMilliseconds(80));
        await Eventually.TrueAsync(() => Chip(0).Level(ReviewLine) == PinValue.Low, "review line released");
        Assert.Equal(_time.GetUtcNow(), Chip(0).EdgesOf(ReviewLine)[^1].At);
    }

    [Fact]
    public async Task A_missed_pulse_pulses_the_alarm_line_only_and_without_one_wired_drives_nothing()
    {
        using (var unwired = Create(Wiring()))
        {
            Assert.False(unwired.SignalMissedPulse(Verdict(VerdictAction.Reject)));
            Assert.DoesNotContain(_chips.SelectMany(c => c.Edges), e => e.Kind != "open");
        }

        _chips.Clear();
        var options = Wiring();
        options.Alarm = new GpioPulseLineOptions { Chip = 0, Line = AlarmLine, Pulse = TimeSpan.FromMilliseconds(200) };
        using var lines = Create(options);
        Assert.True(lines.SignalMissedPulse(Verdict(VerdictAction.Reject)));

        Assert.Equal(PinValue.High, Chip(0).Level(AlarmLine));
        Assert.Single(Chip(0).EdgesOf(RejectLine));
        _time.Advance(TimeSpan.FromMilliseconds(200));
        await Eventually.TrueAsync(() => Chip(0).Level(AlarmLine) == PinValue.Low, "alarm line released");
        Assert.Equal([PinValue.Low, PinValue.High, PinValue.Low], Chip(0).EdgesOf(AlarmLine).Select(e => (PinValue)e.Level!));
    }

    [Fact]
    public async Task Overlapping_rejects_extend_the_pulse_to_the_later_end()
    {
        using var lines = Create(Wiring());
        var start = _time.GetUtcNow();
        await lines.SignalAsync(Verdict(VerdictAction.Reject), default);
        _time.Advance(TimeSpan.FromMilliseconds(30));
        await lines.SignalAsync(Verdict(VerdictAction.Reject), default);

        // The first pulse's end (50 ms) passes: the line must stay active for the second part.
        _time.Advance(TimeSpan.FromMilliseconds(30));
        await Task.Delay(150);
        Assert.Equal(PinValue.High, Chip(0).Level(RejectLine));

        _time.Advance(TimeSpan.FromMilliseconds(20));
        await Eventually.TrueAsync(() => Chip(0).Level(RejectLine) == PinValue.Low, "reject line released");
        Assert.Equal(
            [(PinValue.Low, start), (PinValue.High, start), (PinValue.Low, start.AddMilliseconds(80))],
            Chip(0).EdgesOf(RejectLine).Select(e => ((PinValue)e.Level!, e.At)));
    }

    [Fact]
    public async Task Ready_and_fault_are_held_until_changed()
    {
        using var lines = Create(Wiring());
        lines.SetReady(true);
        lines.SetFault(true);
        Assert.Equal(PinValue.High, Chip(1).Level(ReadyLine));
        Assert.Equal(PinValue.Low, Chip(1).Level(FaultLine));
        _time.Advance(TimeSpan.FromMinutes(5));
        await Task.Delay(50);
        Assert.Equal(PinValue.High, Chip(1).Level(ReadyLine));
        lines.SetReady(false);
        lines.SetFault(false);
        Assert.Equal(PinValue.Low, Chip(1).Level(ReadyLine));
        Assert.Equal(PinValue.High, Chip(1).Level(FaultLine));
    }

    [Fact]
    public async Task Dispose_returns_every_line_to_its_safe_level_mid_pulse()
    {
        var lines = Create(Wiring(rejectActiveLow: true));
        lines.SetReady(true);
        lines.SetFault(true);
        await lines.SignalAsync(Verdict(VerdictAction.Reject), default);
        await lines.SignalAsync(Verdict(VerdictAction.Review), default);

        lines.Dispose();
        AssertAllSafe();
        Assert.All(_chips, c => Assert.True(c.Disposed));
    }

    [Fact]
    public async Task Host_stop_returns_lines_to_safe_and_later_signals_are_not_driven()
    {
        using var lines = Create(Wiring(rejectActiveLow: true));
        lines.SetReady(true);
        await lines.SignalAsync(Verdict(VerdictAction.Reject), default);

        await lines.StopAsync(default);
        AssertAllSafe();
        await lines.SignalAsync(Verdict(VerdictAction.Reject), default);
        lines.SetReady(true);
        AssertAllSafe();
    }

    [Fact]
    public async Task Unhandled_exception_hook_returns_lines_to_safe()
    {
        using var lines = Create(Wiring(rejectActiveLow: true));
        lines.SetFault(true);
        await lines.SignalAsync(Verdict(VerdictAction.Reject), default);

        lines.OnUnhandledException(AppDomain.CurrentDomain, new UnhandledExceptionEventArgs(new InvalidOperationException("boom"), isTerminating: true));
        AssertAllSafe();
    }

    [Fact]
    public async Task None_driver_opens_nothing_and_signals_do_nothing()
    {
        using var lines = new RejectLines(
            new GpioOptions { Driver = GpioDriverKind.None, Reject = new GpioPulseLineOptions { Line = RejectLine } },
            _ => throw new InvalidOperationException("the none driver must not open a chip"),
            _time,
            NullLogger<RejectLines>.Instance);
        await lines.SignalAsync(Verdict(VerdictAction.Reject), default);
        lines.SetReady(true);
        lines.SetFault(true);
        await lines.StopAsync(default);
    }

    [Fact]
    public async Task Simulated_driver_runs_a_pulse_without_hardware()
    {
        var options = Wiring();
        options.Driver = GpioDriverKind.Simulated;
        using var lines = new RejectLines(Options.Create(options), _time, NullLoggerFactory.Instance);
        await lines.SignalAsync(Verdict(VerdictAction.Reject), default);
        _time.Advance(TimeSpan.FromMilliseconds(50));
        await lines.StopAsync(default);
    }

    [Fact]
    public void A_busy_line_fails_with_a_message_naming_chip_line_and_signal()
    {
        var drivers = new List<RecordingGpioDriver>();
        var ex = Assert.Throws<InvalidOperationException>(() => new RejectLines(
            Wiring(),
            chip =>
            {
                var driver = new RecordingGpioDriver(chip, _time) { BusyLine = ReadyLine };
                drivers.Add(driver);
                return driver;
            },
            _time,
            NullLogger<RejectLines>.Instance));
        Assert.Contains("Cannot open gpiochip1 line 5 for Gpio:Ready (line 5 is busy)", ex.Message, StringComparison.Ordinal);
        Assert.All(drivers, d => Assert.True(d.Disposed, "chips opened before the failure are closed"));
    }

    [Fact]
    public void Libgpiod_without_the_chip_fails_with_a_message_naming_it()
    {
        // gpiochip250 exists on no board, so this never drives a real line even on hardware.
        var options = new GpioOptions { Driver = GpioDriverKind.Libgpiod, Reject = new GpioPulseLineOptions { Chip = 250, Line = 0 } };
        var ex = Assert.Throws<InvalidOperationException>(() => new RejectLines(Options.Create(options), _time, NullLoggerFactory.Instance));
        Assert.Contains("Cannot open /dev/gpiochip250 through libgpiod", ex.Message, StringComparison.Ordinal);
    }

    // A driver that is no choice at all ('sysfs') is refused before binding: DaemonHostTests.
    [Fact]
    public void Missing_driver_fails_validation_at_start()
    {
        const string message = "Gpio:Driver is not set";
        var settings = new Dictionary<string, string?> { ["Gpio:Reject:Line"] = "17" };

        using var provider = new ServiceCollection()
            .AddLogging()
            .AddActuation(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<GpioOptions>>().Value);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validation_names_missing_lines_clashes_and_bad_pulses()
    {
        var options = Wiring();
        options.Review!.Line = RejectLine;
        options.Reject!.Pulse = TimeSpan.FromMilliseconds(0);
        options.Fault!.Line = null;
        options.Alarm = new GpioPulseLineOptions { Chip = 1, Line = ReadyLine, Pulse = TimeSpan.Zero };
        var result = new GpioOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains("Gpio:Review and Gpio:Reject are both gpiochip0 line 17", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Gpio:Reject:Pulse is 00:00:00: use 00:00:00.001 to 00:00:10.", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Gpio:Fault:Line is not set", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains($"Gpio:Alarm and Gpio:Ready are both gpiochip1 line {ReadyLine}", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Gpio:Alarm:Pulse is 00:00:00", result.FailureMessage, StringComparison.Ordinal);

        Assert.Contains("Gpio:Reject is not set", new GpioOptionsValidator().Validate(null, new GpioOptions { Driver = GpioDriverKind.Libgpiod }).FailureMessage, StringComparison.Ordinal);
        Assert.True(new GpioOptionsValidator().Validate(null, Wiring()).Succeeded);
    }

    private static GpioOptions Wiring(bool rejectActiveLow = false) => new()
    {
        Driver = GpioDriverKind.Libgpiod,
        Reject = new GpioPulseLineOptions { Chip = 0, Line = RejectLine, ActiveLow = rejectActiveLow, Pulse = TimeSpan.FromMilliseconds(50) },
        Review = new GpioPulseLineOptions { Chip = 0, Line = ReviewLine, Pulse = TimeSpan.FromMilliseconds(80) },
        Ready = new GpioLineOptions { Chip = 1, Line = ReadyLine },
        Fault = new GpioLineOptions { Chip = 1, Line = FaultLine, ActiveLow = true },
    };

    private Verdict Verdict(VerdictAction action) => Verdicts.Make("w.tif", action, _time.GetUtcNow().AddMilliseconds(-7));

    private RejectLines Create(GpioOptions options) => new(
        options,
        chip =>
        {
            var driver = new RecordingGpioDriver(chip, _time);
            _chips.Add(driver);
            return driver;
        },
        _time,
        NullLogger<RejectLines>.Instance);

    private RecordingGpioDriver Chip(int chip) => _chips.Single(c => c.Chip == chip);

    private void AssertAllSafe()
    {
        Assert.Equal(PinValue.High, Chip(0).Level(RejectLine));
        Assert.Equal(PinValue.Low, Chip(0).Level(ReviewLine));
        Assert.Equal(PinValue.Low, Chip(1).Level(ReadyLine));
        Assert.Equal(PinValue.High, Chip(1).Level(FaultLine));
    }
}
