namespace SemEdge.Actuation;

/// <summary>
/// Configuration section "Gpio": which driver talks to the lines and where each line is. The driver is chosen
/// explicitly (libgpiod on the board, simulated on a bench, none to run without lines); there is no fallback.
/// Reject is required unless the driver is none; Review, Ready, Fault and Alarm are optional (unset = not wired).
/// </summary>
public sealed class GpioOptions
{
    public const string SectionName = "Gpio";

    /// <summary>libgpiod | simulated | none; there is no default (null until set).</summary>
    public GpioDriverKind? Driver { get; set; }

    /// <summary>Pulsed for every verdict whose action is reject.</summary>
    public GpioPulseLineOptions? Reject { get; set; }

    /// <summary>Pulsed for every verdict whose action is review (optional).</summary>
    public GpioPulseLineOptions? Review { get; set; }

    /// <summary>Held active while the daemon is ready to inspect.</summary>
    public GpioLineOptions? Ready { get; set; }

    /// <summary>Held active while the daemon reports a fault.</summary>
    public GpioLineOptions? Fault { get; set; }

    /// <summary>
    /// Pulsed once for every missed-pulse alarm (a reject or review recorded but never pulsed because the daemon
    /// died in between), when the alarm is raised at the restart: the PLC hears it without the broker (optional).
    /// </summary>
    public GpioPulseLineOptions? Alarm { get; set; }
}

/// <summary>Values of <c>Gpio:Driver</c>.</summary>
public enum GpioDriverKind
{
    /// <summary>The board's lines, through libgpiod.</summary>
    Libgpiod,

    /// <summary>No hardware: edges are logged.</summary>
    Simulated,

    /// <summary>No lines at all.</summary>
    None,
}

/// <summary>One output line: gpiochip number, line offset on that chip, and polarity.</summary>
public class GpioLineOptions
{
    /// <summary>N of /dev/gpiochipN.</summary>
    public int Chip { get; set; }

    /// <summary>Line offset on the chip; must be set.</summary>
    public int? Line { get; set; }

    /// <summary>True when the wiring is active-low (the line is driven low to signal).</summary>
    public bool ActiveLow { get; set; }
}

/// <summary>An output line that is pulsed rather than held.</summary>
public sealed class GpioPulseLineOptions : GpioLineOptions
{
    /// <summary>How long the line is held active per verdict.</summary>
    public TimeSpan Pulse { get; set; } = TimeSpan.FromMilliseconds(50);
}
