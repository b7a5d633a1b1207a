using System.Device.Gpio;
using Microsoft.Extensions.Logging;

namespace SemEdge.Actuation;

/// <summary>
/// Gpio:Driver = simulated: a GPIO chip with no hardware behind it that logs every edge, for benches and
/// demos where the reject gate is not wired. Chosen explicitly in configuration, never as a fallback.
/// </summary>
public sealed class SimulatedGpioDriver : GpioDriver
{
    private const int Lines = 256;

    private readonly int _chip;
    private readonly ILogger<SimulatedGpioDriver> _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, (PinMode Mode, PinValue Value)> _pins = [];

    public SimulatedGpioDriver(int chip, ILogger<SimulatedGpioDriver> logger)
    {
        _chip = chip;
        _logger = logger;
    }

    protected override int PinCount => Lines;

    protected override void OpenPin(int pinNumber)
    {
        lock (_gate)
        {
            _pins.TryAdd(pinNumber, (PinMode.Input, PinValue.Low));
        }
    }

    protected override void ClosePin(int pinNumber)
    {
        lock (_gate)
        {
            _pins.Remove(pinNumber);
        }
    }

    protected override void SetPinMode(int pinNumber, PinMode mode)
    {
        lock (_gate)
        {
            _pins[pinNumber] = (mode, _pins.TryGetValue(pinNumber, out var pin) ? pin.Value : PinValue.Low);
        }
    }

    protected override void SetPinMode(int pinNumber, PinMode mode, PinValue initialValue)
    {
        lock (_gate)
        {
            _pins[pinNumber] = (mode, initialValue);
        }

        _logger.LogInformation("Simulated gpiochip{Chip} line {Line}: opened as {Mode} at {Level}", _chip, pinNumber, mode, Level(initialValue));
    }

    protected override PinMode GetPinMode(int pinNumber)
    {
        lock (_gate)
        {
            return _pins.TryGetValue(pinNumber, out var pin) ? pin.Mode : PinMode.Input;
        }
    }

    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => mode is PinMode.Output or PinMode.Input;

    protected override PinValue Read(int pinNumber)
    {
        lock (_gate)
        {
            return _pins.TryGetValue(pinNumber, out var pin) ? pin.Value : PinValue.Low;
        }
    }

    protected override void Write(int pinNumber, PinValue value)
    {
        PinValue before;
        lock (_gate)
        {
            var pin = _pins.TryGetValue(pinNumber, out var p) ? p : (PinMode.Output, PinValue.Low);
            before = pin.Item2;
            _pins[pinNumber] = (pin.Item1, value);
        }

        if (before != value)
        {
            _logger.LogInformation("Simulated gpiochip{Chip} line {Line}: {From} -> {To}", _chip, pinNumber, Level(before), Level(value));
        }
    }

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken) =>
        throw new NotSupportedException("The simulated GPIO driver has outputs only.");

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback) =>
        throw new NotSupportedException("The simulated GPIO driver has outputs only.");

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback) =>
        throw new NotSupportedException("The simulated GPIO driver has outputs only.");

    private static string Level(PinValue value) => value == PinValue.High ? "high" : "low";
}
