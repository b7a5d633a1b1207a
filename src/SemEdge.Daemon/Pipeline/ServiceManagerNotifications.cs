using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SemEdge.Telemetry;

namespace SemEdge.Pipeline;

/// <summary>
/// Our side of systemd's <c>Type=notify</c> contract. READY=1 once the models are warm (not merely when the host
/// started), WATCHDOG=1 at half the watchdog period but only while inspections keep finishing (a hung inference
/// must get us restarted), STATUS= with the counts, STOPPING=1 when shutdown begins. Every message goes through
/// Microsoft.Extensions.Hosting.Systemd's <see cref="ISystemdNotifier"/>; its own lifetime is not used, because it
/// sends READY=1 as soon as the host has started (before the models are warm) and never pings the watchdog.
/// </summary>
public sealed class ServiceManagerNotifications(
    ISystemdNotifier notifier,
    ServiceManagerEnvironment environment,
    PipelineProgress progress,
    PipelineCounters counters,
    IOptions<SystemdOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<ServiceManagerNotifications> logger) : BackgroundService
{
    private readonly SystemdOptions _options = options.Value;
    private bool _stallReported;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(() => Send("STOPPING=1"));
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // No socket in the environment handed in (a test, or not under systemd): nothing to tell.
        if (environment.NotifySocket is null || !notifier.IsEnabled)
        {
            return;
        }

        await progress.Ready.WaitAsync(stoppingToken);
        Send($"READY=1\nSTATUS={Status()}\nMAINPID={Environment.ProcessId}");
        logger.LogInformation(
            "Told systemd READY=1; watchdog {Watchdog}",
            environment.WatchdogInterval is { } w ? $"every {(w / 2).TotalSeconds:0.###} s" : "not requested");

        var period = environment.WatchdogInterval is { } interval && interval / 2 < _options.StatusInterval
            ? interval / 2
            : _options.StatusInterval;
        using var timer = new PeriodicTimer(period, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            Tick();
        }
    }

    /// <summary>One beat: a watchdog ping when the pipeline is healthy, and the status line.</summary>
    internal void Tick()
    {
        var inFlight = progress.InFlight();
        var stalled = inFlight is { } f && f.Elapsed > _options.StallLimit;
        if (stalled)
        {
            if (!_stallReported)
            {
                _stallReported = true;
                logger.LogError(
                    "Inspection of {Image} has run {Seconds:0} s (limit {Limit:0} s); watchdog pings stopped so systemd restarts the daemon",
                    inFlight!.Value.Image, inFlight.Value.Elapsed.TotalSeconds, _options.StallLimit.TotalSeconds);
            }

            Send($"STATUS=stalled: {inFlight!.Value.Image} in inspection for {inFlight.Value.Elapsed.TotalSeconds:0} s");
            return;
        }

        _stallReported = false;
        Send(environment.WatchdogInterval is null ? $"STATUS={Status()}" : $"WATCHDOG=1\nSTATUS={Status()}");
    }

    private string Status() => string.Create(
        CultureInfo.InvariantCulture,
        $"inspected {counters.Inspected} (pass {counters.Passed}, reject {counters.Rejected}, review {counters.Reviewed}), " +
        $"quarantined {counters.Quarantined}, published {counters.Published}, queued {progress.Queued}");

    private void Send(string message)
    {
        try
        {
            // ServiceState carries any text: several KEY=value lines in one datagram, as sd_notify(3) allows.
            notifier.Notify(new ServiceState(message));
        }
        catch (SocketException ex)
        {
            logger.LogWarning("Could not notify systemd ({Message}): {Reason}", message.Split('\n')[0], ex.Message);
        }
    }
}
