using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SemEdge.Hosting;
using SemEdge.Tests.EndToEnd;
using SemEdge.Tests.Publishing;
using SemEdge.Tests.Platform;
using TempDir = SemEdge.Tests.Platform.TempDir;

namespace SemEdge.Tests.Hosting;

/// <summary>
/// The whole daemon against a notify socket the test owns, with the inspector replaced at its seam by one the test
/// can hang: READY after warm-up, WATCHDOG while images flow, none while an inspection is stuck, STOPPING at the end.
/// </summary>
public sealed class DaemonSystemdTests : IDisposable
{
    private readonly TempDir _root = new();
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
        var daemon = await DaemonUnderTest.StartAsync(
            _root.Combine("daemon"),
            DaemonUnderTest.Embedded(FreePort.Next()),
            ["--Systemd:StallLimit=00:00:01", "--Systemd:StatusInterval=00:00:00.2"],
            new ServiceManagerEnvironment(_socketPath, TimeSpan.FromMilliseconds(400)),
            services => services.Replace(ServiceDescriptor.Singleton<IInspectorLoader>(new FakeInspectorLoader(inspector))));
        try
        {
            var first = await ReceiveAsync(TimeSpan.FromSeconds(10));
            Assert.StartsWith("READY=1\n", first);
            Assert.Contains(await ReceiveAllAsync(TimeSpan.FromMilliseconds(700)), m => m.StartsWith("WATCHDOG=1\n", StringComparison.Ordinal));

            File.WriteAllBytes(Path.Combine(daemon.Drop, ".a.png.tmp"), [1, 2, 3]);
            File.Move(Path.Combine(daemon.Drop, ".a.png.tmp"), Path.Combine(daemon.Drop, "a.png"));
            await inspector.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await Task.Delay(1200); // past the stall limit
            await ReceiveAllAsync(TimeSpan.FromMilliseconds(100)); // whatever was sent before the limit passed
            var stalled = await ReceiveAllAsync(TimeSpan.FromSeconds(1));
            Assert.DoesNotContain(stalled, m => m.Contains("WATCHDOG=1", StringComparison.Ordinal));
            Assert.Contains(stalled, m => m.StartsWith("STATUS=stalled: a.png in inspection for", StringComparison.Ordinal));

            gate.Release();
            await Eventually.TrueAsync(() => daemon.Counters.Inspected == 1, "the hung inspection finishes");
            var resumed = await ReceiveAllAsync(TimeSpan.FromSeconds(1));
            Assert.Contains(resumed, m => m.StartsWith("WATCHDOG=1\nSTATUS=inspected 1 (pass 0, reject 1, review 0)", StringComparison.Ordinal));
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
