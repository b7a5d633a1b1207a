using System.Device.Gpio;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SemEdge.Decision;

namespace SemEdge.Actuation;

/// <summary>
/// The cell's output lines: reject and review are pulsed per verdict, ready and fault are held, the optional alarm
/// line is pulsed per missed-pulse alarm.
/// <para>Seam for the pipeline: <see cref="SignalAsync"/> starts the pulse for a verdict's action and returns at
/// once (the line is released by its own timer); a pulse that arrives while the line is still active extends it
/// to the later end (a retriggerable pulse: the gate stays open for both parts, never cut short).
/// <see cref="SetReady"/> and <see cref="SetFault"/> hold their lines.</para>
/// <para>Safety: every line is opened straight at its inactive level (no glitch at start), and is driven back
/// to it on host stop, on <see cref="Dispose"/> and from an AppDomain unhandled-exception hook.</para>
/// <para>One <see cref="GpioController"/> per chip; Gpio:Driver picks libgpiod (<see cref="LibgpiodChip"/>),
/// <see cref="SimulatedGpioDriver"/> or nothing at all (none).</para>
/// </summary>
public sealed class RejectLines : IHostedService, IDisposable
{
    private readonly TimeProvider _time;
    private readonly ILogger<RejectLines> _logger;
    private readonly Dictionary<int, GpioController> _controllers = [];
    private readonly ControlLine? _reject;
    private readonly ControlLine? _review;
    private readonly ControlLine? _ready;
    private readonly ControlLine? _fault;
    private readonly ControlLine? _alarm;
    private readonly CancellationTokenSource _stopping = new();
    private int _disposed;

    public RejectLines(IOptions<GpioOptions> options, TimeProvider time, ILoggerFactory loggers)
        : this(options.Value, chip => CreateDriver(options.Value.Driver, chip, loggers), time, loggers.CreateLogger<RejectLines>())
    {
    }

    internal RejectLines(GpioOptions options, Func<int, GpioDriver> driverForChip, TimeProvider time, ILogger<RejectLines> logger)
    {
        _time = time;
        _logger = logger;
        if (options.Driver == GpioDriverKind.None)
        {
            _logger.LogWarning("Gpio:Driver is none: no reject, review, ready or fault line will be driven");
            return;
        }

        try
        {
            _reject = options.Reject is { } reject ? new ControlLine("reject", Open("Reject", reject, driverForChip), reject.Pulse) : null;
            _review = options.Review is { } review ? new ControlLine("review", Open("Review", review, driverForChip), review.Pulse) : null;
            _ready = options.Ready is { } ready ? new ControlLine("ready", Open("Ready", ready, driverForChip), TimeSpan.Zero) : null;
            _fault = options.Fault is { } fault ? new ControlLine("fault", Open("Fault", fault, driverForChip), TimeSpan.Zero) : null;
            _alarm = options.Alarm is { } alarm ? new ControlLine("alarm", Open("Alarm", alarm, driverForChip), alarm.Pulse) : null;
        }
        catch
        {
            DisposeControllers();
            throw;
        }

        AppDomain.CurrentDomain.UnhandledException += OnUnhandledException;
        _logger.LogInformation(
            "GPIO lines open at their safe level via {Driver}: reject {Reject}, review {Review}, ready {Ready}, fault {Fault}, alarm {Alarm}",
            options.Driver?.ToString().ToLowerInvariant(), Describe(options.Reject), Describe(options.Review), Describe(options.Ready), Describe(options.Fault), Describe(options.Alarm));
    }

    /// <summary>Whether a line is wired for <paramref name="action"/>, i.e. whether its verdicts are pulsed.</summary>
    public bool Drives(VerdictAction action) => LineFor(action) is not null;

    /// <summary>
    /// Pulses reject or review for the verdict's action (pass drives nothing); does not wait for the pulse.
    /// True when a line was driven (the pulse started or was extended).
    /// </summary>
    public Task<bool> SignalAsync(Verdict verdict, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        cancellationToken.ThrowIfCancellationRequested();
        var line = LineFor(verdict.Action);
        if (line is null)
        {
            if (verdict.Action == VerdictAction.Review && _reject is not null)
            {
                _logger.LogDebug("Review verdict for {Image} not signalled: no review line is configured", verdict.Image);
            }

            return Task.FromResult(false);
        }

        if (_stopping.IsCancellationRequested)
        {
            _logger.LogWarning("{Line} pulse for {Image} (seq {Seq}) not sent: lines are stopping", line.Name, verdict.Image, verdict.Seq);
            return Task.FromResult(false);
        }

        Pulse(line, verdict);
        return Task.FromResult(true);
    }

    /// <summary>
    /// Pulses the alarm line (when wired) for a verdict whose reject or review pulse was missed. A late reject pulse
    /// would hit another part; this line only tells the PLC to pull the part downstream. True when it was driven.
    /// </summary>
    public bool SignalMissedPulse(Verdict verdict)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        if (_alarm is null || _stopping.IsCancellationRequested)
        {
            return false;
        }

        Pulse(_alarm, verdict);
        return true;
    }

    /// <summary>Holds the ready line active (true) or inactive (false).</summary>
    public void SetReady(bool ready) => Hold(_ready, ready);

    /// <summary>Holds the fault line active (true) or inactive (false).</summary>
    public void SetFault(bool fault) => Hold(_fault, fault);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        DriveAllSafe("host stopping");
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        AppDomain.CurrentDomain.UnhandledException -= OnUnhandledException;
        _stopping.Cancel();
        DriveAllSafe("disposed");
        DisposeControllers();
        // _stopping is not disposed: a pulse timer racing this Dispose may still read its token.
    }

    /// <summary>The unhandled-exception hook: the process is going down, so the gate must not stay open.</summary>
    internal void OnUnhandledException(object? sender, UnhandledExceptionEventArgs e)
    {
        _stopping.Cancel();
        DriveAllSafe("unhandled exception");
    }

    private ControlLine? LineFor(VerdictAction action) => action switch
    {
        VerdictAction.Reject => _reject,
        VerdictAction.Review => _review,
        _ => null,
    };

    private static GpioDriver CreateDriver(GpioDriverKind? driver, int chip, ILoggerFactory loggers) => driver switch
    {
        GpioDriverKind.Libgpiod => LibgpiodChip.Open(chip, loggers.CreateLogger<RejectLines>()),
        GpioDriverKind.Simulated => new SimulatedGpioDriver(chip, loggers.CreateLogger<SimulatedGpioDriver>()),
        _ => throw new InvalidOperationException($"Gpio:Driver '{driver}' has no GPIO driver."),
    };

    private static string Describe(GpioLineOptions? line) => line is null
        ? "not wired"
        : $"gpiochip{line.Chip}:{line.Line}{(line.ActiveLow ? " active-low" : string.Empty)}";

    private OutputLine Open(string name, GpioLineOptions options, Func<int, GpioDriver> driverForChip)
    {
        if (!_controllers.TryGetValue(options.Chip, out var controller))
        {
            controller = new GpioController(driverForChip(options.Chip));
            _controllers[options.Chip] = controller;
        }

        var line = options.Line ?? throw new InvalidOperationException($"Gpio:{name}:Line is not set.");
        try
        {
            return new OutputLine(controller, line, options.ActiveLow);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException(
                $"Cannot open gpiochip{options.Chip} line {line} for Gpio:{name} ({ex.GetBaseException().Message}). " +
                "Check the line offset ('gpioinfo') and that no other program holds the line.", ex);
        }
    }

    private void Pulse(ControlLine line, Verdict verdict)
    {
        // Pulse ends are on the monotonic clock: a wall-clock step (NTP on a board without RTC) must neither
        // hold the gate open nor cut a pulse short.
        var startedAt = _time.GetTimestamp();
        var until = startedAt + line.WidthTicks(_time.TimestampFrequency);
        bool started;
        lock (line.Gate)
        {
            started = !line.Active;
            if (started)
            {
                line.Output.Set(active: true);
                line.Active = true;
                line.Until = until;
            }
            else if (until > line.Until)
            {
                line.Until = until;
            }
        }

        var deltaMs = (_time.GetUtcNow() - verdict.Timestamp).TotalMilliseconds; // for people: both are wall time
        if (started)
        {
            _logger.LogInformation(
                "{Line} pulse for {Image} (seq {Seq}) started {DeltaMs:F1} ms after the verdict, {WidthMs} ms wide",
                line.Name, verdict.Image, verdict.Seq, deltaMs, line.Width.TotalMilliseconds);
            _ = ReleaseWhenDueAsync(line);
        }
        else
        {
            _logger.LogInformation(
                "{Line} pulse for {Image} (seq {Seq}) extends the active pulse, {DeltaMs:F1} ms after the verdict",
                line.Name, verdict.Image, verdict.Seq, deltaMs);
        }
    }

    private async Task ReleaseWhenDueAsync(ControlLine line)
    {
        try
        {
            while (true)
            {
                TimeSpan wait;
                lock (line.Gate)
                {
                    if (!line.Active)
                    {
                        return;
                    }

                    var remaining = line.Until - _time.GetTimestamp();
                    wait = TimeSpan.FromSeconds((double)remaining / _time.TimestampFrequency);
                    if (remaining <= 0)
                    {
                        line.Output.Set(active: false);
                        line.Active = false;
                        return;
                    }
                }

                await Task.Delay(wait, _time, _stopping.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Stop and Dispose drive the line safe themselves.
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Could not end the {Line} pulse; driving every line safe", line.Name);
            DriveAllSafe("pulse failure");
        }
    }

    private void Hold(ControlLine? line, bool active)
    {
        if (line is null)
        {
            return;
        }

        lock (line.Gate)
        {
            if (active && _stopping.IsCancellationRequested)
            {
                return;
            }

            line.Output.Set(active);
            line.Active = active;
        }
    }

    /// <summary>Each wired line and whether it is active now (the technician's page shows them); no locking, a snapshot.</summary>
    public IReadOnlyList<(string Line, bool Active)> States() =>
        [.. new[] { _reject, _review, _ready, _fault, _alarm }.Where(l => l is not null).Select(l => (l!.Name, l.Active))];

    private void DriveAllSafe(string reason)
    {
        foreach (var line in new[] { _reject, _review, _ready, _fault, _alarm })
        {
            if (line is null)
            {
                continue;
            }

            try
            {
                lock (line.Gate)
                {
                    line.Output.Set(active: false);
                    line.Active = false;
                }
            }
            catch (Exception ex)
            {
                // Keep going: one failed line must not leave the others active.
                _logger.LogError(ex, "Could not drive the {Line} line to its safe level ({Reason})", line.Name, reason);
            }
        }

        if (_controllers.Count > 0)
        {
            _logger.LogInformation("GPIO lines driven to their safe level ({Reason})", reason);
        }
    }

    private void DisposeControllers()
    {
        foreach (var controller in _controllers.Values)
        {
            try
            {
                controller.Dispose();
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Closing a GPIO chip failed");
            }
        }

        _controllers.Clear();
    }

    /// <summary>One output pin with its polarity; opened at the inactive level.</summary>
    private sealed class OutputLine
    {
        private readonly GpioController _controller;
        private readonly int _pin;
        private readonly PinValue _active;
        private readonly PinValue _safe;

        public OutputLine(GpioController controller, int pin, bool activeLow)
        {
            _controller = controller;
            _pin = pin;
            _active = activeLow ? PinValue.Low : PinValue.High;
            _safe = activeLow ? PinValue.High : PinValue.Low;
            controller.OpenPin(pin, PinMode.Output, _safe);
        }

        public void Set(bool active) => _controller.Write(_pin, active ? _active : _safe);
    }

    /// <summary>A named line with its lock; pulse state (active, until) is used by reject and review only.</summary>
    private sealed class ControlLine(string name, OutputLine output, TimeSpan pulse)
    {
        public string Name { get; } = name;

        public OutputLine Output { get; } = output;

        public TimeSpan Width { get; } = pulse;

        public Lock Gate { get; } = new();

        public bool Active { get; set; }

        /// <summary>When the pulse ends, as a <see cref="TimeProvider.GetTimestamp"/> value.</summary>
        public long Until { get; set; }

        public long WidthTicks(long frequency) => (long)Math.Ceiling(Width.TotalSeconds * frequency);
    }
}
