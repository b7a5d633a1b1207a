using System.Reflection;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SemEdge.Pipeline;
using SemEdge.Telemetry;

namespace SemEdge.Tests.Hosting;

/// <summary>
/// The library's own <see cref="SystemdNotifier"/>, sending to a socket the test bound instead of the process's
/// NOTIFY_SOCKET (which tests running side by side in one process cannot each set). Uses the constructor the
/// library keeps "for testing"; it takes the address as the kernel sees it, so an abstract name starts with NUL.
/// The '@' spelling of NOTIFY_SOCKET is covered end to end by <see cref="EndToEnd.DaemonProcess"/>.
/// </summary>
internal static class NotifierAt
{
    public static ISystemdNotifier Socket(string path) =>
        (ISystemdNotifier)(Activator.CreateInstance(
            typeof(SystemdNotifier), BindingFlags.Instance | BindingFlags.NonPublic, binder: null, [path], culture: null)
            ?? throw new InvalidOperationException("SystemdNotifier(string) is gone"));

    /// <summary>
    /// The notifications on their own (no host), sending to <paramref name="path"/> with a 10 s watchdog and a 30 s
    /// stall limit; <paramref name="environmentSocket"/> is what the environment says (null: not under systemd).
    /// </summary>
    public static ServiceManagerNotifications Notifications(string path, PipelineProgress progress, TimeProvider time, string? environmentSocket = "") =>
        new(
            Socket(path),
            new ServiceManagerEnvironment(environmentSocket == "" ? path : environmentSocket, TimeSpan.FromSeconds(10)),
            progress,
            new PipelineCounters(),
            Options.Create(new SystemdOptions { StallLimit = TimeSpan.FromSeconds(30) }),
            new ApplicationLifetime(NullLogger<ApplicationLifetime>.Instance),
            time,
            NullLogger<ServiceManagerNotifications>.Instance);
}
