using System.Globalization;
using Microsoft.Extensions.Configuration;
using SemEdge.Actuation;
using SemEdge.Publishing;

namespace SemEdge.Diagnostics;

/// <summary>
/// Checks of the raw configuration that must come before binding, worded for the technician: a key that was
/// renamed (a site file written for an older release must not be silently ignored), and a value that is not one of
/// a setting's choices (the binder would only say it cannot convert it, without the choices).
/// </summary>
public static class SettingsPrecheck
{
    /// <summary>Old key → new key, for settings that became durations; the old value was in the unit named.</summary>
    private static readonly (string Old, string New, double UnitSeconds)[] RenamedDurations =
    [
        ("Mqtt:KeepAliveSeconds", "Mqtt:KeepAlive", 1),
        ("Mqtt:OperationTimeoutSeconds", "Mqtt:OperationTimeout", 1),
        ("Mqtt:ReconnectMinSeconds", "Mqtt:ReconnectMin", 1),
        ("Mqtt:ReconnectMaxSeconds", "Mqtt:ReconnectMax", 1),
        ("Mqtt:HeartbeatSeconds", "Mqtt:HeartbeatInterval", 1),
        ("Gpio:Reject:PulseMs", "Gpio:Reject:Pulse", 0.001),
        ("Gpio:Review:PulseMs", "Gpio:Review:Pulse", 0.001),
    ];

    /// <summary>Settings that take one of a few words (enums), with those words.</summary>
    private static readonly (string Key, string[] Choices)[] Choices =
    [
        ($"{MqttOptions.SectionName}:{nameof(MqttOptions.Mode)}", ChoicesOf<MqttMode>()),
        ($"{GpioOptions.SectionName}:{nameof(GpioOptions.Driver)}", ChoicesOf<GpioDriverKind>()),
    ];

    /// <summary>Every problem found, one line each naming the key; empty when there is none.</summary>
    public static IReadOnlyList<string> Problems(IConfiguration configuration)
    {
        var problems = new List<string>();
        foreach (var (old, renamed, unitSeconds) in RenamedDurations)
        {
            if (configuration[old] is not { } value)
            {
                continue;
            }

            var example = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && number >= 0 && number < 1e9
                ? TimeSpan.FromSeconds(number * unitSeconds).ToString("c", CultureInfo.InvariantCulture)
                : "hh:mm:ss";
            problems.Add($"{old} is no longer read: it was renamed {renamed} and takes a time, e.g. \"{renamed[(renamed.LastIndexOf(':') + 1)..]}\": \"{example}\"; rename it in the configuration.");
        }

        foreach (var (key, choices) in Choices)
        {
            if (configuration[key] is { Length: > 0 } value && !choices.Contains(value.Trim(), StringComparer.OrdinalIgnoreCase))
            {
                problems.Add($"{key} is '{value}': use one of {string.Join(", ", choices)}.");
            }
        }

        return problems;
    }

    private static string[] ChoicesOf<TEnum>()
        where TEnum : struct, Enum => [.. Enum.GetNames<TEnum>().Select(n => n.ToLowerInvariant())];
}
