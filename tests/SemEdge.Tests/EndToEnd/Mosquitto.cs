using System.Diagnostics;
using System.Net.Sockets;
using SemEdge.Tests.Publishing;

namespace SemEdge.Tests.EndToEnd;

/// <summary>
/// A real mosquitto on a free 127.0.0.1 port, with persistence in a temp folder so a persistent subscriber's
/// queue survives a broker restart (the outage tests stop and start it).
/// </summary>
internal sealed class Mosquitto : IAsyncDisposable
{
    private readonly string _configPath;
    private Process? _process;

    private Mosquitto(string folder, int port)
    {
        Port = port;
        Directory.CreateDirectory(folder);
        _configPath = Path.Combine(folder, "mosquitto.conf");
        File.WriteAllText(_configPath, $"""
            listener {port} 127.0.0.1
            allow_anonymous true
            persistence true
            persistence_location {folder}/
            autosave_interval 1
            log_dest none
            """ + "\n");
    }

    public int Port { get; }

    public static async Task<Mosquitto> StartAsync(string folder)
    {
        var broker = new Mosquitto(folder, FreePort.Next());
        await broker.StartAsync();
        return broker;
    }

    public async Task StartAsync()
    {
        _process = Process.Start(new ProcessStartInfo("mosquitto", ["-c", _configPath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("mosquitto did not start");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Stops the broker the way an operator or a crash would end it (SIGTERM; it saves its queue).</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await process.WaitForExitAsync(cts.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        _process?.Dispose();
    }
}
