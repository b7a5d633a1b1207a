using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using SemEdge.Inference;
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

    /// <param name="runAs">A user to run the daemon as (via setpriv; the test must be root), e.g. to show that a
    /// non-root daemon can take over files written by another user.</param>
    public static async Task<DaemonProcess> StartAsync(string root, IEnumerable<string> settings, string? runAs = null, string? runAsGroup = null)
    {
        Directory.CreateDirectory(root);
        var site = Path.Combine(root, "site.json");
        File.WriteAllText(site, "{}\n");
        // An abstract socket (NOTIFY_SOCKET=@name, as systemd itself often passes): the daemon's SystemdNotifier must
        // turn the '@' into the leading NUL, and no file mode stands between it and a daemon run as another user.
        var socketName = $"semedge-test-{Guid.NewGuid():N}";
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint("\0" + socketName));

        var script = Path.Combine(RepoPaths.Scripts, "semedge");
        var info = new ProcessStartInfo(runAs is null ? script : "setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        if (runAs is not null && OperatingSystem.IsLinux())
        {
            // Build as the caller first: the other user cannot write the artifacts folder.
            using (var build = Process.Start(new ProcessStartInfo(script, ["--version"]) { RedirectStandardOutput = true })!)
            {
                await build.WaitForExitAsync();
            }

            // The other user runs an installed copy (the board's `semedge`, models/ beside it) rather than the
            // checkout's script: a checkout may sit below a folder only its owner can enter (a 0700 mktemp -d).
            var installed = InstallCopy(Path.Combine(root, "install"));
            foreach (var argument in new[] { $"--reuid={runAs}", $"--regid={runAsGroup ?? runAs}", "--init-groups", "--", installed })
            {
                info.ArgumentList.Add(argument);
            }

            info.Environment["HOME"] = root;
            File.SetUnixFileMode(site, (UnixFileMode)0x1A4);
        }

        info.ArgumentList.Add("run");
        info.ArgumentList.Add("--config");
        info.ArgumentList.Add(site);
        // appsettings.json turns the page on at a fixed port; the settings given may turn it back on (Web/ tests).
        info.ArgumentList.Add("--Web:Enabled=false");
        foreach (var setting in settings)
        {
            info.ArgumentList.Add(setting);
        }

        info.Environment["NOTIFY_SOCKET"] = "@" + socketName;
        // scripts/semedge run makes and trusts a development key: in the test's folder, not the user's home.
        info.Environment["SEMEDGE_KEY_DIR"] = Path.Combine(root, "keys");
        var daemon = new DaemonProcess(Process.Start(info) ?? throw new InvalidOperationException("semedge did not start"));

        // The first run may build the artifacts: allow for that.
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        // A daemon that exits (bad settings, a failed build) ends the wait at once instead of after the timeout.
        _ = daemon._process.WaitForExitAsync(cts.Token).ContinueWith(_ => cts.Cancel(), TaskScheduler.Default);
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
                return daemon;
            }
        }
    }

    /// <summary>
    /// Copies the build (with only this machine's native runtimes) and the shipped models into
    /// <paramref name="folder"/> in the board's layout (bin/semedge, models/), readable by every user; returns the
    /// executable's path.
    /// </summary>
    private static string InstallCopy(string folder)
    {
        var build = Path.Combine(RepoPaths.Root, "artifacts", "semedge");
        var bin = Path.Combine(folder, "bin");
        var ownRuntime = "runtimes/" + System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;
        DirectoryTree.Copy(build, bin, path => !path.StartsWith("runtimes/", StringComparison.Ordinal) || path == ownRuntime
            || path.StartsWith(ownRuntime + "/", StringComparison.Ordinal), readableByAll: true);
        DirectoryTree.Copy(Path.Combine(RepoPaths.Root, ShippedModels.FolderName), Path.Combine(folder, ShippedModels.FolderName), readableByAll: true);
        return Path.Combine(bin, "semedge");
    }

    public bool HasExited => _process.HasExited;

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
