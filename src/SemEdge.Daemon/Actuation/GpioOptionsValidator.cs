using Microsoft.Extensions.Options;

namespace SemEdge.Actuation;

/// <summary>Start-up checks of <see cref="GpioOptions"/>, worded for the technician who wires the cell.</summary>
public sealed class GpioOptionsValidator : IValidateOptions<GpioOptions>
{
    public static readonly TimeSpan MinPulse = TimeSpan.FromMilliseconds(1);
    public static readonly TimeSpan MaxPulse = TimeSpan.FromSeconds(10);

    public ValidateOptionsResult Validate(string? name, GpioOptions options)
    {
        var failures = new List<string>();
        if (options.Driver is not { } kind || !Enum.IsDefined(kind))
        {
            failures.Add(options.Driver is null
                ? "Gpio:Driver is not set: choose libgpiod (the board), simulated (no hardware, edges logged) or none (no lines)."
                : $"Gpio:Driver '{options.Driver}' is unknown: choose libgpiod, simulated or none.");
            return ValidateOptionsResult.Fail(failures);
        }

        if (kind == GpioDriverKind.None)
        {
            return ValidateOptionsResult.Success;
        }

        if (options.Reject is null)
        {
            failures.Add($"Gpio:Reject is not set: the {kind.ToString().ToLowerInvariant()} driver needs the reject line (Chip, Line, ActiveLow, Pulse).");
        }

        var used = new Dictionary<(int Chip, int Line), string>();
        Check(failures, used, "Reject", options.Reject);
        Check(failures, used, "Review", options.Review);
        Check(failures, used, "Ready", options.Ready);
        Check(failures, used, "Fault", options.Fault);
        Check(failures, used, "Alarm", options.Alarm);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(List<string> failures, Dictionary<(int, int), string> used, string name, GpioLineOptions? line)
    {
        if (line is null)
        {
            return;
        }

        if (line.Chip < 0)
        {
            failures.Add($"Gpio:{name}:Chip is {line.Chip}: use the N of /dev/gpiochipN (0 or more).");
        }

        if (line.Line is not { } offset)
        {
            failures.Add($"Gpio:{name}:Line is not set: give the line offset on gpiochip{line.Chip} (see 'gpioinfo').");
        }
        else if (offset < 0)
        {
            failures.Add($"Gpio:{name}:Line is {offset}: line offsets start at 0.");
        }
        else if (used.TryGetValue((line.Chip, offset), out var other))
        {
            failures.Add($"Gpio:{name} and Gpio:{other} are both gpiochip{line.Chip} line {offset}: each signal needs its own line.");
        }
        else
        {
            used[(line.Chip, offset)] = name;
        }

        if (line is GpioPulseLineOptions pulse && (pulse.Pulse < MinPulse || pulse.Pulse > MaxPulse))
        {
            failures.Add($"Gpio:{name}:Pulse is {pulse.Pulse}: use 00:00:00.001 to 00:00:10.");
        }
    }
}
