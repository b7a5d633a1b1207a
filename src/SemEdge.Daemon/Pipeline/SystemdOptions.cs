using Microsoft.Extensions.Options;

namespace SemEdge.Pipeline;

/// <summary>Settings of section <c>Systemd</c>: how the daemon reports to the service manager.</summary>
public sealed class SystemdOptions
{
    public const string SectionName = "Systemd";

    /// <summary>
    /// An inspection running longer than this counts as hung: watchdog pings stop, so systemd (WatchdogSec=)
    /// restarts the daemon. Must exceed the slowest honest inspection, including a cold NPU.
    /// </summary>
    public TimeSpan StallLimit { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the STATUS= line (shown by <c>systemctl status</c>) is refreshed.</summary>
    public TimeSpan StatusInterval { get; set; } = TimeSpan.FromSeconds(5);
}

public sealed class SystemdOptionsValidator : IValidateOptions<SystemdOptions>
{
    public ValidateOptionsResult Validate(string? name, SystemdOptions options)
    {
        var failures = new List<string>();
        if (options.StallLimit < TimeSpan.FromSeconds(1))
        {
            failures.Add($"Systemd:StallLimit is {options.StallLimit}; use at least 00:00:01 (longer than the slowest inspection).");
        }

        if (options.StatusInterval < TimeSpan.FromMilliseconds(100))
        {
            failures.Add($"Systemd:StatusInterval is {options.StatusInterval}; use at least 00:00:00.1.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>
/// What systemd put in the environment for us: the notify socket and the watchdog period. Read once by the
/// composition root so tests can hand in their own values without touching the process environment.
/// </summary>
public sealed record ServiceManagerEnvironment(string? NotifySocket, TimeSpan? WatchdogInterval)
{
    public static ServiceManagerEnvironment FromProcess()
    {
        var socket = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        TimeSpan? watchdog = null;
        if (long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), out var usec) && usec > 0)
        {
            // WATCHDOG_PID names the process meant to ping; a child that inherited the variable must not.
            var pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
            if (string.IsNullOrEmpty(pid) || pid == Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                watchdog = TimeSpan.FromMicroseconds(usec);
            }
        }

        return new ServiceManagerEnvironment(socket, watchdog);
    }
}
