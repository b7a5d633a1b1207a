using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace SemEdge.Tests.Publishing;

/// <summary>
/// A real mosquitto on a free 127.0.0.1 port with its own config and persistence folder; can be stopped
/// (SIGTERM, so it saves persistent sessions) and started again on the same port.
/// </summary>
internal sealed class Mosquitto : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/mosquitto";

    private readonly string _configPath;
    private readonly StringBuilder _output = new();
    private Process? _process;

    private Mosquitto(string folder, int port, string extraConfig)
    {
        Port = port;
        _configPath = Path.Combine(folder, $"mosquitto-{port}.conf");
        var data = Directory.CreateDirectory(Path.Combine(folder, $"mosquitto-{port}-data")).FullName;
        File.WriteAllText(_configPath, $"""
            listener {port} 127.0.0.1
            allow_anonymous true
            user root
            persistence true
            persistence_location {data}/
            autosave_interval 0
            {extraConfig}

            """);
    }

    public int Port { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<Mosquitto> StartAsync(string folder, string extraConfig = "")
    {
        var broker = new Mosquitto(folder, FreePort.Next(), extraConfig);
        await broker.StartAsync();
        return broker;
    }

    public async Task StartAsync()
    {
        var info = new ProcessStartInfo(Binary, ["-c", _configPath])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        var process = Process.Start(info) ?? throw new InvalidOperationException("mosquitto did not start");
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"mosquitto exited with {process.ExitCode}: {Output}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Graceful stop (SIGTERM): mosquitto saves retained messages and persistent sessions.</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        using (var kill = Process.Start("/bin/kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
        }

        process.Dispose();
        _process = null;
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

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
