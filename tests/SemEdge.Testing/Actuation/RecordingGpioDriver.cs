using System.Collections.Concurrent;
using System.Device.Gpio;

namespace SemEdge.Tests.Actuation;

/// <summary>
/// A GPIO chip faked at the library's own seam: records every level it is asked to drive, with the
/// <see cref="TimeProvider"/> time, including the initial level given when a line is opened.
/// </summary>
internal sealed class RecordingGpioDriver : GpioDriver
{
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<int, PinValue> _levels = new();
    private readonly ConcurrentQueue<Edge> _edges = new();
    private readonly ConcurrentDictionary<int, PinMode> _modes = new();

    public RecordingGpioDriver(int chip, TimeProvider time)
    {
        Chip = chip;
        _time = time;
    }

    public int Chip { get; }

    /// <summary>A line the fake kernel refuses to hand out (busy or absent), to test the error path.</summary>
    public int? BusyLine { get; init; }

    public bool Disposed { get; private set; }

    public IReadOnlyList<Edge> Edges => [.. _edges];

    public IReadOnlyList<Edge> EdgesOf(int line) => [.. _edges.Where(e => e.Line == line)];

    public PinValue Level(int line) => _levels[line];

    protected override int PinCount => 64;

    protected override void OpenPin(int pinNumber)
    {
        if (pinNumber == BusyLine)
        {
            throw new IOException($"line {pinNumber} is busy");
        }

        _modes.TryAdd(pinNumber, PinMode.Input);
    }

    protected override void ClosePin(int pinNumber) => _modes.TryRemove(pinNumber, out _);

    protected override void SetPinMode(int pinNumber, PinMode mode)
    {
        // Opening an output without an initial level could glitch the line: the product code must not do it.
        _modes[pinNumber] = mode;
        _edges.Enqueue(new Edge(pinNumber, null, _time.GetUtcNow(), "mode without initial level"));
    }

    protected override void SetPinMode(int pinNumber, PinMode mode, PinValue initialValue)
    {
        _modes[pinNumber] = mode;
        _levels[pinNumber] = initialValue;
        _edges.Enqueue(new Edge(pinNumber, initialValue, _time.GetUtcNow(), "open"));
    }

    protected override PinMode GetPinMode(int pinNumber) => _modes.TryGetValue(pinNumber, out var mode) ? mode : PinMode.Input;

    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => mode == PinMode.Output;

    protected override PinValue Read(int pinNumber) => _levels.TryGetValue(pinNumber, out var level) ? level : PinValue.Low;

    protected override void Write(int pinNumber, PinValue value)
    {
        _levels[pinNumber] = value;
        _edges.Enqueue(new Edge(pinNumber, value, _time.GetUtcNow(), "write"));
    }

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken) =>
        throw new NotSupportedException();

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback) =>
        throw new NotSupportedException();

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback) =>
        throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        Disposed = true;
        base.Dispose(disposing);
    }

    internal sealed record Edge(int Line, PinValue? Level, DateTimeOffset At, string Kind);
}
