using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SemEdge.Pipeline;
using SemEdge.Tests.EndToEnd;
using SemEdge.Tests.Publishing;
using SemEdge.Tests.Platform;

namespace SemEdge.Tests.Hosting;

/// <summary>
/// The whole daemon against a notify socket the test owns, with the inspector replaced at its seam by one the test
/// can hang: READY after warm-up, WATCHDOG while images flow, none while an inspection is stuck, STOPPING at the end.
/// </summary>
public sealed class DaemonSystemdTests : IDisposable
{
    private readonly TempFolder _root = new();
    private readonly Socket _systemd = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly string _socketPath;

    public DaemonSystemdTests()
    {
        _socketPath = _root.Combine("notify");
        _systemd.Bind(new UnixDomainSocketEndPoint(_socketPath));
    }

    public void Dispose()
    {
        _systemd.Dispose();
        _root.Dispose();
    }

    [Fact]
    public async Task Watchdog_pings_stop_while_an_inspection_hangs_and_resume_when_it_finishes()
    {
        using var gate = new SemaphoreSlim(0);
        var inspector = new FakeInspector("1", gate);
        var daemon = await DaemonUnderTest.StartWithInspectorAsync(
            _root.Combine("daemon"),
            inspector,
            ["--Systemd:StallLimit=00:00:01", "--Systemd:StatusInterval=00:00:00.2", "--Pipeline:Workers=1"],
            new ServiceManagerEnvironment(_socketPath, TimeSpan.FromMilliseconds(400)));
        try
        {
            var first = await ReceiveAsync(TimeSpan.FromSeconds(10));
            Assert.StartsWith("READY=1\n", first);
            await ReceiveUntilAsync(m => m.StartsWith("WATCHDOG=1\n", StringComparison.Ordinal), TimeSpan.FromSeconds(10));

            File.WriteAllBytes(Path.Combine(daemon.Drop, ".a.png.tmp"), [1, 2, 3]);
            File.Move(Path.Combine(daemon.Drop, ".a.png.tmp"), Path.Combine(daemon.Drop, "a.png"));
            await inspector.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

            // Pings continue until the stall limit passes; from then on only the stalled status, never a ping.
            await ReceiveUntilAsync(m => m.StartsWith("STATUS=stalled: a.png in inspection for", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
            var stalled = await ReceiveAllAsync(TimeSpan.FromSeconds(1.5));
            Assert.NotEmpty(stalled);
            Assert.All(stalled, m => Assert.StartsWith("STATUS=stalled: a.png in inspection for", m));

            gate.Release();
            await ReceiveUntilAsync(m => m.StartsWith("WATCHDOG=1\nSTATUS=inspected 1 (pass 0, reject 1, review 0)", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        }
        finally
        {
            gate.Release(10);
            await daemon.DisposeAsync();
        }

        Assert.Contains(await ReceiveAllAsync(TimeSpan.FromMilliseconds(500)), m => m == "STOPPING=1");
    }

    private async Task<string> ReceiveAsync(TimeSpan within)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(within);
        var length = await _systemd.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    private async Task ReceiveUntilAsync(Func<string, bool> wanted, TimeSpan within)
    {
        var end = DateTime.UtcNow + within;
        var seen = new List<string>();
        while (true)
        {
            var left = end - DateTime.UtcNow;
            try
            {
                var message = await ReceiveAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
                if (wanted(message))
                {
                    return;
                }

                seen.Add(message);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"the awaited message did not come within {within}; got: {string.Join(" | ", seen)}");
            }
        }
    }

    private async Task<List<string>> ReceiveAllAsync(TimeSpan during)
    {
        var messages = new List<string>();
        var end = DateTime.UtcNow + during;
        while (DateTime.UtcNow < end)
        {
            try
            {
                messages.Add(await ReceiveAsync(end - DateTime.UtcNow));
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return messages;
    }
}
