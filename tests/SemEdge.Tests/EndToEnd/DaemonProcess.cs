using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using SemEdge.Tests.Platform;

namespace SemEdge.Tests.EndToEnd;

/// <summary>
/// <c>scripts/semedge run</c> as a child process (the artifacts build; the script execs the app, so the pid is the
/// daemon's), with a notify socket of the test's own to learn when it is READY. Needed where only a real process
/// will do: SIGKILL.
/// </summary>
internal sealed class DaemonProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private DaemonProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

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

    public static async Task<DaemonProcess> StartAsync(string root, IEnumerable<string> settings)
    {
        Directory.CreateDirectory(root);
        var site = Path.Combine(root, "site.json");
        File.WriteAllText(site, "{}\n");
        var socketPath = Path.Combine(root, $"notify-{Guid.NewGuid():N}"[..20]);
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint(socketPath));

        var info = new ProcessStartInfo(Path.Combine(RepoPaths.Scripts, "semedge"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        info.ArgumentList.Add("run");
        info.ArgumentList.Add("--config");
        info.ArgumentList.Add(site);
        // appsettings.json turns the page on at a fixed port; the settings given may turn it back on (Web/ tests).
        info.ArgumentList.Add("--Web:Enabled=false");
        foreach (var setting in settings)
        {
            info.ArgumentList.Add(setting);
        }

        info.Environment["NOTIFY_SOCKET"] = socketPath;
        var daemon = new DaemonProcess(Process.Start(info) ?? throw new InvalidOperationException("semedge did not start"));

        // The first run may build the artifacts: allow for that.
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        while (true)
        {
            int length;
            try
            {
                length = await systemd.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            }
            catch (OperationCanceledException)
            {
                await daemon.DisposeAsync();
                throw new TimeoutException($"semedge run never sent READY=1:\n{daemon.Output}");
            }

            if (Encoding.UTF8.GetString(buffer, 0, length).StartsWith("READY=1", StringComparison.Ordinal))
            {
                File.Delete(socketPath);
                return daemon;
            }
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, exactly like a power cut to the process.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as systemd stops it; returns the exit code.</summary>
    public async Task<int> StopAsync()
    {
        Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
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
