using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SemEdge.Pipeline;
using SemEdge.Telemetry;
using SemEdge.Tests.Platform;

namespace SemEdge.Tests.Hosting;

/// <summary>The notify protocol, checked at a datagram socket the test binds in systemd's place.</summary>
public sealed class ServiceManagerNotificationsTests : IDisposable
{
    private readonly TempFolder _root = new();
    private readonly Socket _systemd = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly string _socketPath;

    public ServiceManagerNotificationsTests()
    {
        _socketPath = _root.Combine("notify.sock");
        _systemd.Bind(new UnixDomainSocketEndPoint(_socketPath));
    }

    public void Dispose()
    {
        _systemd.Dispose();
        _root.Dispose();
    }

    private async Task<string> ReceiveAsync(TimeSpan within)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(within);
        var length = await _systemd.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    private async Task<string> ReceiveUntilAsync(string wanted, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var message = await ReceiveAsync(deadline - DateTime.UtcNow);
            if (message.Split('\n').Contains(wanted))
            {
                return message;
            }
        }
    }

    [Fact]
    public async Task Ready_only_after_warm_up_then_watchdog_then_stopping()
    {
        var progress = new PipelineProgress(TimeProvider.System);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(NotifierAt.Socket(_socketPath));
        builder.Services.AddSingleton(new ServiceManagerEnvironment(_socketPath, TimeSpan.FromMilliseconds(300)));
        builder.Services.AddSingleton(progress);
        builder.Services.AddSingleton<PipelineCounters>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(Options.Create(new SystemdOptions()));
        builder.Services.AddHostedService<ServiceManagerNotifications>();
        using var host = builder.Build();

        await host.StartAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ReceiveAsync(TimeSpan.FromMilliseconds(400)));

        progress.MarkReady();
        var ready = await ReceiveAsync(TimeSpan.FromSeconds(5));
        Assert.StartsWith("READY=1\nSTATUS=inspected 0", ready);

        var ping = await ReceiveAsync(TimeSpan.FromSeconds(5));
        Assert.StartsWith("WATCHDOG=1\n", ping);

        await host.StopAsync();
        await ReceiveUntilAsync("STOPPING=1", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task No_watchdog_ping_while_an_inspection_is_stalled()
    {
        var time = new FakeTimeProvider();
        var progress = new PipelineProgress(time);
        var notifications = NotifierAt.Notifications(_socketPath, progress, time);

        var slow = progress.Started("slow.png");
        time.Advance(TimeSpan.FromSeconds(29));
        notifications.Tick();
        Assert.StartsWith("WATCHDOG=1\n", await ReceiveAsync(TimeSpan.FromSeconds(5)));

        time.Advance(TimeSpan.FromSeconds(2));
        notifications.Tick();
        notifications.Tick();
        var stalled = new[] { await ReceiveAsync(TimeSpan.FromSeconds(5)), await ReceiveAsync(TimeSpan.FromSeconds(5)) };
        Assert.All(stalled, m => Assert.Equal("STATUS=stalled: slow.png in inspection for 31 s", m));

        progress.Finished(slow);
        notifications.Tick();
        Assert.StartsWith("WATCHDOG=1\n", await ReceiveAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Without_notify_socket_nothing_is_sent_and_nothing_fails()
    {
        var progress = new PipelineProgress(TimeProvider.System);
        using var notifications = NotifierAt.Notifications(_socketPath, progress, TimeProvider.System, environmentSocket: null);

        progress.MarkReady();
        await notifications.StartAsync(CancellationToken.None);
        await notifications.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(10));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ReceiveAsync(TimeSpan.FromMilliseconds(300)));
    }
}
