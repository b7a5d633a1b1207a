using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using SemEdge.Decision;

namespace SemEdge.Tests.Publishing;

/// <summary>Questions tests ask of a <see cref="FakeLogger"/>'s lines (what a technician would read).</summary>
internal static class FakeLoggerLines
{
    public static bool Contains(this FakeLogger logger, LogLevel level, string fragment) =>
        logger.Collector.GetSnapshot().Any(r => r.Level == level && r.Message.Contains(fragment, StringComparison.Ordinal));
}

internal static class Verdicts
{
    public static Verdict Make(string image, VerdictAction action = VerdictAction.Reject, DateTimeOffset? at = null) => new()
    {
        Image = image,
        Timestamp = at ?? new DateTimeOffset(2026, 11, 23, 10, 0, 0, 123, TimeSpan.Zero),
        ClassId = 1,
        Label = "bridge",
        Confidence = 0.9731f,
        Action = action,
        ModelId = "mnv3s-int8",
        ModelSha = "0123456789ab",
        Provider = "cpu",
        LatencyMs = 12.3456,
    };
}

internal static class FreePort
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

internal static class Eventually
{
    /// <summary>Polls until the condition holds; fails with <paramref name="what"/> after the timeout.</summary>
    public static async Task TrueAsync(Func<bool> condition, string what, double seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out after {seconds} s waiting for: {what}");
            }

            await Task.Delay(25);
        }
    }
}
