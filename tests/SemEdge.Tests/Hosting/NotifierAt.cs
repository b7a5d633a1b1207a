using System.Reflection;
using Microsoft.Extensions.Hosting.Systemd;

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
}
